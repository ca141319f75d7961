/**
 * Garbage collection, mark-and-sweep as containerd does it. Roots: images (their targets), containers (their
 * snapshots), unexpired leases (their resources), and anything labelled `containerd.io/gc.root`. References
 * follow labels — `containerd.io/gc.ref.content[.<name>]` → a digest, `containerd.io/gc.ref.snapshot.<snapshotter>[/<name>]`
 * → a snapshot key — and snapshot parents. Mark and the metadata sweep run synchronously in one SQLite
 * transaction (a consistent cut no request can interleave with, which layer-store's async `reachable()` could
 * not give); backing files (blobs, snapshot dirs) are removed after, each rechecked right before removal.
 */
import { LABEL_GC_ROOT, labelReferences } from '@berth/layer-store';
import type { Logger } from 'pino';
import type { Db } from './metadata/db.ts';
import { fromJson } from './metadata/db.ts';
import { GC_EXPIRE_LABEL } from './metadata/leases.ts';
import type { GcResult } from './context.ts';

/** Unleased ingests older than this are removed (an abandoned download). */
const INGEST_EXPIRY_MS = 24 * 3600 * 1000;

type Key = string;
const contentKey = (ns: string, digest: string): Key => `c\0${ns}\0${digest}`;
const snapshotKey = (ns: string, snapshotter: string, key: string): Key => `s\0${ns}\0${snapshotter}\0${key}`;
const ingestKey = (ns: string, ref: string): Key => `i\0${ns}\0${ref}`;

/** What a sweep removed from metadata; the owners of the backing stores remove the files. */
export interface SweepPlan {
  content: Array<{ namespace: string; digest: string }>;
  snapshots: Array<{ namespace: string; snapshotter: string; key: string; backendKey: string }>;
  ingests: Array<{ namespace: string; ref: string }>;
}

/** Backing stores that own files behind metadata rows (content blobs, snapshot dirs, ingest files). */
export interface GcBackend {
  /** Called after the metadata sweep commits. */
  removeSwept(plan: SweepPlan): Promise<void>;
}

/** Pushes the references found in a label map (layer-store's reading of containerd's gc labels). */
function refsFromLabels(ns: string, labels: Record<string, string>, push: (k: Key) => void): void {
  for (const n of labelReferences(labels)) push(n.type === 'content' ? contentKey(ns, n.digest) : snapshotKey(ns, n.snapshotter, n.key));
}

function expired(labels: Record<string, string>, now: number): boolean {
  const at = labels[GC_EXPIRE_LABEL];
  if (!at) return false;
  const t = Date.parse(at);
  return Number.isFinite(t) && t <= now;
}

interface ContentRow { namespace: string; digest: string; labels: string }
interface SnapshotRow { namespace: string; snapshotter: string; key: string; backend_key: string; parent: string; labels: string }
interface IngestRow { namespace: string; ref: string; updated_at: number }

/** A reference some object held, dropped with it: a lease's resource, a container's snapshot or label. */
export interface DroppedRef { type: string; id: string }

/**
 * Whether dropping these references (already deleted from the store) may have left something unreachable.
 * False only when each is a snapshot that no longer exists or that a container still uses (a root), so a
 * collection could find nothing new; content, ingests and any other snapshot answer true. `ctr run` drops
 * its lease while the container holds the snapshot, and deletes the container after removing the snapshot:
 * neither schedules a collection (a BullMQ job: ~4 ms of runtimed's CPU per run, and more of redis's).
 */
export function mayFree(db: Db, ns: string, refs: DroppedRef[]): boolean {
  for (const r of refs) {
    if (!r.type.startsWith('snapshots/')) return true;
    const snapshotter = r.type.slice('snapshots/'.length);
    const exists = db.prepare('SELECT 1 FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?').get(ns, snapshotter, r.id);
    if (!exists) continue;
    const used = db.prepare('SELECT 1 FROM containers WHERE namespace = ? AND snapshotter = ? AND snapshot_key = ? LIMIT 1').get(ns, snapshotter, r.id);
    if (!used) return true;
  }
  return false;
}

/** What a container holds for the collector: its snapshot and the objects its labels reference. */
export function containerRefs(c: { snapshotter: string; snapshotKey: string; labels?: Record<string, string> }): DroppedRef[] {
  const refs: DroppedRef[] = [];
  if (c.snapshotKey) refs.push({ type: `snapshots/${c.snapshotter}`, id: c.snapshotKey });
  for (const n of labelReferences(c.labels)) {
    refs.push(n.type === 'content' ? { type: 'content', id: n.digest } : { type: `snapshots/${n.snapshotter}`, id: n.key });
  }
  return refs;
}

/** Marks reachable objects and deletes the unreachable rows; returns what was deleted. Synchronous: one transaction. */
export function markAndSweep(db: Db, now = Date.now()): SweepPlan {
  return db.transaction((): SweepPlan => {
    // Expired leases go first: what only they held becomes garbage in this same pass.
    const leases = db.prepare('SELECT namespace, id, labels FROM leases').all() as Array<{ namespace: string; id: string; labels: string }>;
    for (const l of leases) {
      if (expired(fromJson(l.labels, {}), now)) {
        db.prepare('DELETE FROM leases WHERE namespace = ? AND id = ?').run(l.namespace, l.id);
        db.prepare('DELETE FROM lease_resources WHERE namespace = ? AND lease = ?').run(l.namespace, l.id);
      }
    }
    const contents = db.prepare('SELECT namespace, digest, labels FROM content').all() as ContentRow[];
    const snapshots = db.prepare('SELECT namespace, snapshotter, key, backend_key, parent, labels FROM snapshots').all() as SnapshotRow[];
    const ingests = db.prepare('SELECT namespace, ref, updated_at FROM ingests').all() as IngestRow[];
    const contentByKey = new Map(contents.map((c) => [contentKey(c.namespace, c.digest), c]));
    const snapshotByKey = new Map(snapshots.map((s) => [snapshotKey(s.namespace, s.snapshotter, s.key), s]));

    const marked = new Set<Key>();
    const stack: Key[] = [];
    const push = (k: Key) => {
      if (!marked.has(k)) {
        marked.add(k);
        stack.push(k);
      }
    };
    // Roots.
    for (const img of db.prepare('SELECT namespace, digest, labels FROM images').all() as ContentRow[]) {
      push(contentKey(img.namespace, img.digest));
      refsFromLabels(img.namespace, fromJson(img.labels, {}), push);
    }
    for (const c of db.prepare('SELECT namespace, labels, snapshotter, snapshot_key FROM containers').all() as
      Array<{ namespace: string; labels: string; snapshotter: string; snapshot_key: string }>) {
      if (c.snapshot_key) push(snapshotKey(c.namespace, c.snapshotter, c.snapshot_key));
      refsFromLabels(c.namespace, fromJson(c.labels, {}), push);
    }
    for (const r of db.prepare('SELECT namespace, type, id FROM lease_resources').all() as Array<{ namespace: string; type: string; id: string }>) {
      if (r.type === 'content') push(contentKey(r.namespace, r.id));
      else if (r.type === 'ingests') push(ingestKey(r.namespace, r.id));
      else if (r.type.startsWith('snapshots/')) push(snapshotKey(r.namespace, r.type.slice('snapshots/'.length), r.id));
    }
    for (const c of contents) if (LABEL_GC_ROOT in fromJson<Record<string, string>>(c.labels, {})) push(contentKey(c.namespace, c.digest));
    for (const s of snapshots) {
      if (LABEL_GC_ROOT in fromJson<Record<string, string>>(s.labels, {})) push(snapshotKey(s.namespace, s.snapshotter, s.key));
    }
    for (const i of ingests) if (now - i.updated_at < INGEST_EXPIRY_MS) push(ingestKey(i.namespace, i.ref));
    // Mark.
    for (let k = stack.pop(); k !== undefined; k = stack.pop()) {
      const c = contentByKey.get(k);
      if (c) {
        refsFromLabels(c.namespace, fromJson(c.labels, {}), push);
        continue;
      }
      const s = snapshotByKey.get(k);
      if (s) {
        if (s.parent) push(snapshotKey(s.namespace, s.snapshotter, s.parent));
        refsFromLabels(s.namespace, fromJson(s.labels, {}), push);
      }
    }
    // Sweep metadata.
    const plan: SweepPlan = { content: [], snapshots: [], ingests: [] };
    for (const c of contents) {
      if (marked.has(contentKey(c.namespace, c.digest))) continue;
      db.prepare('DELETE FROM content WHERE namespace = ? AND digest = ?').run(c.namespace, c.digest);
      plan.content.push({ namespace: c.namespace, digest: c.digest });
    }
    for (const s of snapshots) {
      if (marked.has(snapshotKey(s.namespace, s.snapshotter, s.key))) continue;
      db.prepare('DELETE FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?').run(s.namespace, s.snapshotter, s.key);
      plan.snapshots.push({ namespace: s.namespace, snapshotter: s.snapshotter, key: s.key, backendKey: s.backend_key });
    }
    for (const i of ingests) {
      if (marked.has(ingestKey(i.namespace, i.ref))) continue;
      db.prepare('DELETE FROM ingests WHERE namespace = ? AND ref = ?').run(i.namespace, i.ref);
      plan.ingests.push({ namespace: i.namespace, ref: i.ref });
    }
    return plan;
  })();
}

interface GcDeps { db: Db; log: Logger }

/**
 * Runs collections one at a time: `schedule()` coalesces bursts of deletions into one run after `delayMs`;
 * `collect()` runs now (after any running one). The GC job on the queue calls `runScheduled()`.
 */
export class GarbageCollector {
  private readonly deps: GcDeps;
  private readonly delayMs: number;
  private readonly backends: GcBackend[] = [];
  private running: Promise<GcResult> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A scheduled run is pending (not started yet): later requests ride on it. */
  private scheduled = false;
  private closed = false;
  /** Hook for the job queue: when set, scheduled runs go through it (a BullMQ job that calls runScheduled()). */
  scheduler: ((delayMs: number) => Promise<void>) | undefined;

  constructor(deps: GcDeps, delayMs: number) {
    this.deps = deps;
    this.delayMs = delayMs;
  }

  addBackend(b: GcBackend): void {
    this.backends.push(b);
  }

  /**
   * Runs a collection after the delay. Requests while one is pending coalesce into it; a request during a
   * run schedules another (the running one may have marked before the deletion that asked for it).
   */
  schedule(): void {
    if (this.closed || this.scheduled) return;
    this.scheduled = true;
    const local = () => {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.runScheduled().catch((err: unknown) => this.deps.log.error({ err }, 'garbage collection failed'));
      }, this.delayMs);
      this.timer.unref();
    };
    if (!this.scheduler) return local();
    this.scheduler(this.delayMs).catch((err: unknown) => {
      this.deps.log.warn({ err }, 'queue a garbage collection job; running it in-process');
      local();
    });
  }

  /** schedule(), unless dropping `refs` in namespace `ns` cannot have left anything to collect (see mayFree). */
  scheduleFor(ns: string, refs: DroppedRef[]): void {
    if (mayFree(this.deps.db, ns, refs)) this.schedule();
  }

  /** The scheduled run (called by the GC job or the local timer). */
  runScheduled(): Promise<GcResult> {
    this.scheduled = false;
    return this.collect();
  }

  async collect(): Promise<GcResult> {
    while (this.running) await this.running.catch(() => {});
    this.running = this.run();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async run(): Promise<GcResult> {
    const t0 = performance.now();
    const plan = markAndSweep(this.deps.db);
    for (const b of this.backends) await b.removeSwept(plan);
    const result: GcResult = {
      removedContent: plan.content.length,
      removedSnapshots: plan.snapshots.length,
      removedIngests: plan.ingests.length,
      durationMs: Math.round(performance.now() - t0),
    };
    if (result.removedContent + result.removedSnapshots + result.removedIngests > 0) this.deps.log.info(result, 'garbage collected');
    return result;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }
}
