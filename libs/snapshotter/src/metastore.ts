/**
 * Snapshot metadata in SQLite (better-sqlite3, WAL): one row per snapshot with a numeric id that also names
 * its directory on disk. better-sqlite3 transactions are synchronous, so each metadata change (and the
 * directory rename that goes with it) happens whole or not at all, and concurrent async callers cannot
 * interleave inside one.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { applyLabelUpdate, validateLabels } from '@berth/layer-store';
import type { SnapshotInfo, SnapshotKind, Usage } from './snapshotter.ts';

export interface SnapshotRow {
  id: number;
  key: string;
  kind: SnapshotKind;
  parent_id: number | null;
  labels: string;
  created_at: number;
  updated_at: number;
  size: number;
  inodes: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS snapshots (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  parent_id INTEGER REFERENCES snapshots(id),
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  inodes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS snapshots_by_parent ON snapshots (parent_id);
`;

export class MetaStore {
  readonly db: Database.Database;

  constructor(root: string) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    this.db = new Database(path.join(root, 'metadata.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** The statement for `sql`, compiled once (better-sqlite3 compiles again on every prepare()). */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  find(key: string): SnapshotRow | undefined {
    return this.stmt('SELECT * FROM snapshots WHERE key = ?').get(key) as SnapshotRow | undefined;
  }

  get(key: string): SnapshotRow {
    const r = this.find(key);
    if (!r) throw new NotFoundError(`snapshot ${key} does not exist`);
    return r;
  }

  byId(id: number): SnapshotRow {
    return this.stmt('SELECT * FROM snapshots WHERE id = ?').get(id) as SnapshotRow;
  }

  /** The ids of a snapshot's ancestors, nearest first. */
  ancestors(row: SnapshotRow): SnapshotRow[] {
    const out: SnapshotRow[] = [];
    let p = row.parent_id;
    while (p !== null) {
      const r = this.byId(p);
      out.push(r);
      p = r.parent_id;
    }
    return out;
  }

  info(row: SnapshotRow): SnapshotInfo {
    const parent = row.parent_id === null ? undefined : this.byId(row.parent_id).key;
    return {
      name: row.key,
      ...(parent !== undefined ? { parent } : {}),
      kind: row.kind,
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
      labels: JSON.parse(row.labels) as Record<string, string>,
    };
  }

  /** Inserts a new active/view snapshot; returns its row. Call inside a transaction. */
  create(key: string, kind: 'active' | 'view', parentName: string | undefined, labels: Record<string, string>): SnapshotRow {
    if (!key) throw new InvalidArgumentError('snapshot key must not be empty');
    validateLabels(labels);
    if (this.find(key)) throw new AlreadyExistsError(`snapshot ${key}: already exists`);
    let parentId: number | null = null;
    if (parentName) {
      const p = this.find(parentName);
      if (!p) throw new NotFoundError(`parent snapshot ${parentName} does not exist`);
      if (p.kind !== 'committed') throw new InvalidArgumentError(`parent snapshot ${parentName} is not a committed snapshot`);
      parentId = p.id;
    }
    const now = Date.now();
    const res = this.stmt('INSERT INTO snapshots (key, kind, parent_id, labels, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(key, kind, parentId, JSON.stringify(labels), now, now);
    return this.byId(Number(res.lastInsertRowid));
  }

  /**
   * Renames active `key` to committed `name`, recording its usage; with `rebaseOnto`, a snapshot prepared
   * without a parent gets that committed parent. Call inside a transaction.
   */
  commit(name: string, key: string, usage: Usage, labels: Record<string, string> | undefined, rebaseOnto?: string): SnapshotRow {
    const row = this.get(key);
    if (row.kind !== 'active') throw new FailedPreconditionError(`snapshot ${key} is not active`);
    if (!name) throw new InvalidArgumentError('snapshot name must not be empty');
    if (this.find(name)) throw new AlreadyExistsError(`snapshot ${name}: already exists`);
    let parentId = row.parent_id;
    if (rebaseOnto !== undefined) {
      if (row.parent_id !== null) {
        throw new FailedPreconditionError(`commit snapshot ${key} onto ${rebaseOnto}: only a snapshot prepared without a parent can be rebased`);
      }
      const p = this.find(rebaseOnto);
      if (!p) throw new NotFoundError(`parent snapshot ${rebaseOnto} does not exist`);
      if (p.kind !== 'committed') throw new InvalidArgumentError(`parent snapshot ${rebaseOnto} is not a committed snapshot`);
      parentId = p.id;
    }
    const merged = { ...(JSON.parse(row.labels) as Record<string, string>), ...labels };
    validateLabels(merged);
    this.stmt('UPDATE snapshots SET key = ?, kind = \'committed\', parent_id = ?, labels = ?, size = ?, inodes = ?, updated_at = ? WHERE id = ?')
      .run(name, parentId, JSON.stringify(merged), usage.size, usage.inodes, Date.now(), row.id);
    return this.byId(row.id);
  }

  setUsage(id: number, usage: Usage): void {
    this.stmt('UPDATE snapshots SET size = ?, inodes = ? WHERE id = ?').run(usage.size, usage.inodes, id);
  }

  /** Deletes a snapshot's row; refuses when it has children. Call inside a transaction. */
  remove(key: string): SnapshotRow {
    const row = this.get(key);
    const child = this.stmt('SELECT key FROM snapshots WHERE parent_id = ? LIMIT 1').get(row.id) as { key: string } | undefined;
    if (child) throw new FailedPreconditionError(`cannot remove snapshot ${key}: snapshot ${child.key} depends on it`);
    this.stmt('DELETE FROM snapshots WHERE id = ?').run(row.id);
    return row;
  }

  updateLabels(name: string, labels: Record<string, string>, fieldpaths: string[] | undefined): SnapshotRow {
    return this.transaction(() => {
      const row = this.get(name);
      for (const fp of fieldpaths ?? []) {
        if (fp !== 'labels' && !fp.startsWith('labels.')) throw new InvalidArgumentError(`cannot update ${JSON.stringify(fp)} field on snapshot ${name}`);
      }
      const next = applyLabelUpdate(JSON.parse(row.labels) as Record<string, string>, labels, fieldpaths, `snapshot ${name}`);
      this.stmt('UPDATE snapshots SET labels = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(next), Date.now(), row.id);
      return this.byId(row.id);
    });
  }

  all(): SnapshotRow[] {
    return this.stmt('SELECT * FROM snapshots ORDER BY id').all() as SnapshotRow[];
  }

  ids(): Set<number> {
    return new Set((this.stmt('SELECT id FROM snapshots').all() as { id: number }[]).map((r) => r.id));
  }
}
