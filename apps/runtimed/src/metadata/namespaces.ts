/** Namespaces: created explicitly or implicitly by the first namespaced write, removed only when empty. */
import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from '@berth/errdefs';
import type { Namespace } from '@berth/containerd-api';
import { fromJson, toJson, type Db } from './db.ts';

interface Row { name: string; labels: string }

const NAMESPACED_TABLES = ['images', 'containers', 'leases', 'content', 'snapshots', 'tasks'] as const;

export class NamespaceStore {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  get(name: string): Namespace {
    const row = this.db.prepare('SELECT name, labels FROM namespaces WHERE name = ?').get(name) as Row | undefined;
    if (!row) throw new NotFoundError(`namespace ${name}: not found`);
    return { name: row.name, labels: fromJson(row.labels, {}) };
  }

  list(): Namespace[] {
    const rows = this.db.prepare('SELECT name, labels FROM namespaces ORDER BY name').all() as Row[];
    return rows.map((r) => ({ name: r.name, labels: fromJson(r.labels, {}) }));
  }

  create(name: string, labels: Record<string, string>): Namespace {
    const r = this.db.prepare('INSERT OR IGNORE INTO namespaces (name, labels, created_at) VALUES (?, ?, ?)').run(name, toJson(labels), Date.now());
    if (r.changes === 0) throw new AlreadyExistsError(`namespace ${name}: already exists`);
    return { name, labels };
  }

  /** Creates the namespace if it does not exist (every namespaced write calls this, as containerd does). Returns true if created. */
  ensure(name: string): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO namespaces (name, labels, created_at) VALUES (?, \'{}\', ?)').run(name, Date.now()).changes > 0;
  }

  update(name: string, labels: Record<string, string>, paths: string[] | undefined): Namespace {
    const current = this.get(name);
    let next = labels;
    if (paths && paths.length > 0) {
      next = { ...current.labels };
      for (const p of paths) {
        if (p === 'labels') next = { ...labels };
        else if (p.startsWith('labels.')) {
          const k = p.slice('labels.'.length);
          if (labels[k] === undefined || labels[k] === '') delete next[k];
          else next[k] = labels[k];
        } else throw new FailedPreconditionError(`update namespace ${name}: cannot update ${p}`);
      }
    }
    this.db.prepare('UPDATE namespaces SET labels = ? WHERE name = ?').run(toJson(next), name);
    return { name, labels: next };
  }

  delete(name: string): void {
    this.get(name);
    for (const t of NAMESPACED_TABLES) {
      const n = this.db.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE namespace = ?`).get(name) as { n: number };
      if (n.n > 0) throw new FailedPreconditionError(`delete namespace ${name}: namespace must be empty, but it still has ${t}`);
    }
    this.db.prepare('DELETE FROM namespaces WHERE name = ?').run(name);
  }
}
