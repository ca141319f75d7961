/**
 * Task records: which shim runs a container's task, where its bundle is, and its stdio. Everything else about a
 * task (status, pid, exit) lives in its shim and is asked for; this is what runtimed needs to find the shims
 * again after a restart.
 */
import type { Db } from './db.ts';

export interface TaskRecord {
  namespace: string;
  containerId: string;
  shimId: string;
  socket: string;
  bundle: string;
  pid: number;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  exitPublished: boolean;
}

interface Row {
  namespace: string;
  container_id: string;
  shim_id: string;
  socket: string;
  bundle: string;
  pid: number;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: number;
  exit_published: number;
}

const toRecord = (r: Row): TaskRecord => ({
  namespace: r.namespace, containerId: r.container_id, shimId: r.shim_id, socket: r.socket, bundle: r.bundle, pid: r.pid,
  stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal !== 0, exitPublished: r.exit_published !== 0,
});

export class TaskStore {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Inserts the record; false when the container already has a task. */
  insert(t: TaskRecord): boolean {
    return this.db.prepare(`INSERT OR IGNORE INTO tasks (namespace, container_id, shim_id, socket, bundle, pid, stdin, stdout, stderr, terminal,
      exit_published, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`).run(t.namespace, t.containerId, t.shimId, t.socket, t.bundle, t.pid,
      t.stdin, t.stdout, t.stderr, t.terminal ? 1 : 0, Date.now()).changes > 0;
  }

  find(ns: string, id: string): TaskRecord | undefined {
    const r = this.db.prepare('SELECT * FROM tasks WHERE namespace = ? AND container_id = ?').get(ns, id) as Row | undefined;
    return r && toRecord(r);
  }

  list(ns?: string): TaskRecord[] {
    const rows = (ns === undefined
      ? this.db.prepare('SELECT * FROM tasks ORDER BY created_at').all()
      : this.db.prepare('SELECT * FROM tasks WHERE namespace = ? ORDER BY created_at').all(ns)) as Row[];
    return rows.map(toRecord);
  }

  setPid(ns: string, id: string, pid: number): void {
    this.db.prepare('UPDATE tasks SET pid = ? WHERE namespace = ? AND container_id = ?').run(pid, ns, id);
  }

  markExitPublished(ns: string, id: string): void {
    this.db.prepare('UPDATE tasks SET exit_published = 1 WHERE namespace = ? AND container_id = ?').run(ns, id);
  }

  delete(ns: string, id: string): void {
    this.db.prepare('DELETE FROM tasks WHERE namespace = ? AND container_id = ?').run(ns, id);
  }
}
