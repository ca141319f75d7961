/**
 * Snapshot metadata per namespace: containerd's keys and names mapped to the backend snapshotter's own keys
 * (`<namespace>/<seq>/<key>`, as containerd's metadata snapshotter does), with kind, parent and labels.
 */
import { NotFoundError } from '@berth/errdefs';
import { toTimestamp, type SnapshotInfo, type SnapshotKind } from '@berth/containerd-api';
import { fromJson, toJson, type Db } from './db.ts';
import type { Labels } from './labels.ts';

export interface SnapshotRow {
  namespace: string;
  snapshotter: string;
  key: string;
  backend_key: string;
  parent: string;
  kind: SnapshotKind;
  labels: string;
  created_at: number;
  updated_at: number;
}

export function toSnapshotInfo(r: SnapshotRow): SnapshotInfo {
  return {
    name: r.key, parent: r.parent, kind: r.kind, labels: fromJson(r.labels, {}),
    createdAt: toTimestamp(r.created_at), updatedAt: toTimestamp(r.updated_at),
  };
}

export class SnapshotMeta {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  find(ns: string, snapshotter: string, key: string): SnapshotRow | undefined {
    return this.db.prepare('SELECT * FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?').get(ns, snapshotter, key) as SnapshotRow | undefined;
  }

  get(ns: string, snapshotter: string, key: string): SnapshotRow {
    const r = this.find(ns, snapshotter, key);
    if (!r) throw new NotFoundError(`snapshot ${key} does not exist`);
    return r;
  }

  list(ns: string, snapshotter: string): SnapshotRow[] {
    return this.db.prepare('SELECT * FROM snapshots WHERE namespace = ? AND snapshotter = ? ORDER BY created_at').all(ns, snapshotter) as SnapshotRow[];
  }

  all(snapshotter: string): SnapshotRow[] {
    return this.db.prepare('SELECT * FROM snapshots WHERE snapshotter = ?').all(snapshotter) as SnapshotRow[];
  }

  hasChildren(ns: string, snapshotter: string, key: string): boolean {
    return this.db.prepare('SELECT 1 FROM snapshots WHERE namespace = ? AND snapshotter = ? AND parent = ? LIMIT 1').get(ns, snapshotter, key) !== undefined;
  }

  /** A fresh backend key for a namespace's key: unique even when a key is reused after removal. */
  newBackendKey(ns: string, key: string): string {
    const seq = (this.db.prepare('SELECT COUNT(*) + ? AS n FROM snapshots').get(Date.now()) as { n: number }).n;
    return `${ns}/${seq.toString(36)}${Math.random().toString(36).slice(2, 6)}/${key}`;
  }

  insert(row: Omit<SnapshotRow, 'created_at' | 'updated_at'> & { created_at?: number }): void {
    const now = Date.now();
    this.db.prepare(`INSERT INTO snapshots (namespace, snapshotter, key, backend_key, parent, kind, labels, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(row.namespace, row.snapshotter, row.key, row.backend_key, row.parent, row.kind, row.labels,
      row.created_at ?? now, now);
  }

  setLabels(ns: string, snapshotter: string, key: string, labels: Labels): void {
    this.db.prepare('UPDATE snapshots SET labels = ?, updated_at = ? WHERE namespace = ? AND snapshotter = ? AND key = ?')
      .run(toJson(labels), Date.now(), ns, snapshotter, key);
  }

  delete(ns: string, snapshotter: string, key: string): void {
    this.db.prepare('DELETE FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?').run(ns, snapshotter, key);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
