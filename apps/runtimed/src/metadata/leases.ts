/**
 * Leases: named holds on content, snapshots and ingests that keep them from garbage collection while a client
 * (a pull, an unpack, a build) is working. Resources are added explicitly (AddResource) or implicitly by any
 * write made with the `containerd-lease` metadata. A `containerd.io/gc.expire` label (RFC3339) ends a lease.
 */
import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { toTimestamp, type Lease, type LeaseResource } from '@berth/containerd-api';
import { fromJson, toJson, type Db } from './db.ts';
import { compileFilters } from './filters.ts';
import { validateLabels } from './labels.ts';

export const GC_EXPIRE_LABEL = 'containerd.io/gc.expire';

interface Row { id: string; labels: string; created_at: number }

function toLease(r: Row): Lease {
  return { id: r.id, labels: fromJson(r.labels, {}), createdAt: toTimestamp(r.created_at) };
}

/** Resource types containerd knows: `content`, `ingests`, `snapshots/<snapshotter>`. */
export function validateResource(r: LeaseResource): LeaseResource {
  if (!r.id) throw new InvalidArgumentError('lease resource: id must not be empty');
  if (r.type !== 'content' && r.type !== 'ingests' && !/^snapshots\/[a-z0-9._-]+$/.test(r.type)) {
    throw new InvalidArgumentError(`lease resource ${r.id}: unsupported type ${JSON.stringify(r.type)}`);
  }
  return r;
}

export class LeaseStore {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  create(ns: string, id: string, labels: Record<string, string>): Lease {
    const leaseId = id || `${Date.now()}-${randomBytes(6).toString('hex')}`;
    validateLabels(labels, `lease ${leaseId}`);
    const r = this.db.prepare('INSERT OR IGNORE INTO leases (namespace, id, labels, created_at) VALUES (?, ?, ?, ?)')
      .run(ns, leaseId, toJson(labels), Date.now());
    if (r.changes === 0) throw new AlreadyExistsError(`lease ${leaseId}: already exists`);
    return this.get(ns, leaseId);
  }

  get(ns: string, id: string): Lease {
    const row = this.db.prepare('SELECT * FROM leases WHERE namespace = ? AND id = ?').get(ns, id) as Row | undefined;
    if (!row) throw new NotFoundError(`lease ${id}: not found`);
    return toLease(row);
  }

  exists(ns: string, id: string): boolean {
    return this.db.prepare('SELECT 1 FROM leases WHERE namespace = ? AND id = ?').get(ns, id) !== undefined;
  }

  list(ns: string, filters: string[] = []): Lease[] {
    const match = compileFilters(filters);
    const rows = this.db.prepare('SELECT * FROM leases WHERE namespace = ? ORDER BY created_at').all(ns) as Row[];
    return rows.map(toLease).filter((l) => match((p) => (p[0] === 'id' ? l.id : p[0] === 'labels' ? l.labels[p.slice(1).join('.')] : undefined)));
  }

  /** Every lease in every namespace with its resources (GC roots). */
  all(): Array<{ namespace: string; lease: Lease; resources: LeaseResource[] }> {
    const rows = this.db.prepare('SELECT * FROM leases').all() as Array<Row & { namespace: string }>;
    return rows.map((r) => ({ namespace: r.namespace, lease: toLease(r), resources: this.resources(r.namespace, r.id) }));
  }

  delete(ns: string, id: string): void {
    this.db.transaction(() => {
      const r = this.db.prepare('DELETE FROM leases WHERE namespace = ? AND id = ?').run(ns, id);
      if (r.changes === 0) throw new NotFoundError(`lease ${id}: not found`);
      this.db.prepare('DELETE FROM lease_resources WHERE namespace = ? AND lease = ?').run(ns, id);
    })();
  }

  addResource(ns: string, id: string, res: LeaseResource): void {
    validateResource(res);
    if (!this.exists(ns, id)) throw new NotFoundError(`lease ${id}: not found`);
    this.db.prepare('INSERT OR IGNORE INTO lease_resources (namespace, lease, type, id) VALUES (?, ?, ?, ?)').run(ns, id, res.type, res.id);
  }

  deleteResource(ns: string, id: string, res: LeaseResource): void {
    if (!this.exists(ns, id)) throw new NotFoundError(`lease ${id}: not found`);
    this.db.prepare('DELETE FROM lease_resources WHERE namespace = ? AND lease = ? AND type = ? AND id = ?').run(ns, id, res.type, res.id);
  }

  resources(ns: string, id: string): LeaseResource[] {
    return this.db.prepare('SELECT type, id FROM lease_resources WHERE namespace = ? AND lease = ? ORDER BY type, id').all(ns, id) as LeaseResource[];
  }

  /** Drops a resource from every lease in the namespace (the object is gone). */
  forgetResource(ns: string, res: LeaseResource): void {
    this.db.prepare('DELETE FROM lease_resources WHERE namespace = ? AND type = ? AND id = ?').run(ns, res.type, res.id);
  }
}
