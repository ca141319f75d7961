/**
 * Namespaced snapshots over the backend snapshotters (overlayfs, native). containerd's vocabulary: an active
 * snapshot has a *key*, a committed one a *name*; the backend sees only its own unique keys. Mutations of one
 * snapshotter are serialized (as containerd's metadata transactions are), so checks and changes never interleave.
 */
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import type { Mount, SnapshotInfo, SnapshotUsage } from '@berth/containerd-api';
import type { Logger } from 'pino';
import type { EventBus } from '../events.ts';
import type { GcBackend, SweepPlan } from '../gc.ts';
import { fromJson, toJson } from '../metadata/db.ts';
import { compileFilters } from '../metadata/filters.ts';
import { applyLabelPaths, validateLabels, type Labels } from '../metadata/labels.ts';
import type { LeaseStore } from '../metadata/leases.ts';
import type { NamespaceStore } from '../metadata/namespaces.ts';
import type { SnapshotMeta } from '../metadata/snapshot-meta.ts';
import { toSnapshotInfo } from '../metadata/snapshot-meta.ts';

/** What runtimed needs from a snapshotter implementation (containerd's Snapshotter, keyed by backend keys). */
export interface SnapshotBackend {
  prepare(key: string, parent: string): Promise<Mount[]>;
  view(key: string, parent: string): Promise<Mount[]>;
  mounts(key: string): Promise<Mount[]>;
  /** `parent` (a backend key) rebases a snapshot prepared without one; only where `capabilities` has `rebase`. */
  commit(name: string, key: string, parent?: string): Promise<void>;
  remove(key: string): Promise<void>;
  usage(key: string): Promise<SnapshotUsage>;
  /** overlayfs: a char 0/0 node on the snapshots' filesystem that layer appliers hard-link whiteouts to. */
  readonly whiteoutTemplate?: string | undefined;
  /** `rebase`: see @berth/snapshotter's CommitOptions.parent. */
  readonly capabilities?: readonly string[];
}

interface Deps {
  meta: SnapshotMeta;
  leases: LeaseStore;
  namespaces: NamespaceStore;
  events: EventBus;
  log: Logger;
}

class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => {});
    return next;
  }
}

export class SnapshotManager implements GcBackend {
  private readonly d: Deps;
  private readonly backends: Map<string, SnapshotBackend>;
  private readonly locks = new Map<string, Mutex>();

  constructor(deps: Deps, backends: Map<string, SnapshotBackend>) {
    this.d = deps;
    this.backends = backends;
  }

  whiteoutTemplate(snapshotter: string): string | undefined {
    return this.backend(snapshotter).whiteoutTemplate;
  }

  capabilities(snapshotter: string): readonly string[] {
    return this.backend(snapshotter).capabilities ?? [];
  }

  names(): string[] {
    return [...this.backends.keys()];
  }

  private backend(snapshotter: string): SnapshotBackend {
    const b = this.backends.get(snapshotter);
    if (!b) throw new InvalidArgumentError(`snapshotter ${JSON.stringify(snapshotter)} not loaded (have: ${this.names().join(', ')})`);
    return b;
  }

  private lock(snapshotter: string): Mutex {
    let m = this.locks.get(snapshotter);
    if (!m) this.locks.set(snapshotter, (m = new Mutex()));
    return m;
  }

  private addToLease(ns: string, lease: string | undefined, snapshotter: string, key: string): void {
    if (lease) this.d.leases.addResource(ns, lease, { type: `snapshots/${snapshotter}`, id: key });
  }

  private create(kind: 'ACTIVE' | 'VIEW', ns: string, snapshotter: string, key: string, parent: string, labels: Labels, lease?: string): Promise<Mount[]> {
    const backend = this.backend(snapshotter);
    if (!key) throw new InvalidArgumentError(`${kind === 'VIEW' ? 'view' : 'prepare'} snapshot: key must not be empty`);
    validateLabels(labels, `snapshot ${key}`);
    return this.lock(snapshotter).run(async () => {
      if (lease && !this.d.leases.exists(ns, lease)) throw new NotFoundError(`lease ${lease}: not found`);
      if (this.d.meta.find(ns, snapshotter, key)) throw new AlreadyExistsError(`snapshot ${key}: already exists`);
      let parentBackend = '';
      if (parent) {
        const p = this.d.meta.find(ns, snapshotter, parent);
        if (!p) throw new NotFoundError(`parent snapshot ${parent} does not exist`);
        if (p.kind !== 'COMMITTED') throw new InvalidArgumentError(`parent snapshot ${parent}: must be committed, is ${p.kind.toLowerCase()}`);
        parentBackend = p.backend_key;
      }
      this.d.namespaces.ensure(ns);
      const backendKey = this.d.meta.newBackendKey(ns, key);
      const mounts = kind === 'VIEW' ? await backend.view(backendKey, parentBackend) : await backend.prepare(backendKey, parentBackend);
      try {
        this.d.meta.transaction(() => {
          this.d.meta.insert({ namespace: ns, snapshotter, key, backend_key: backendKey, parent, kind, labels: toJson(labels) });
          this.addToLease(ns, lease, snapshotter, key);
        });
      } catch (err) {
        await backend.remove(backendKey).catch(() => {});
        throw err;
      }
      this.d.events.emit(ns, '/snapshot/prepare', { key, parent });
      return mounts;
    });
  }

  prepare(ns: string, snapshotter: string, key: string, parent: string, labels: Labels, lease?: string): Promise<Mount[]> {
    return this.create('ACTIVE', ns, snapshotter, key, parent, labels, lease);
  }

  view(ns: string, snapshotter: string, key: string, parent: string, labels: Labels, lease?: string): Promise<Mount[]> {
    return this.create('VIEW', ns, snapshotter, key, parent, labels, lease);
  }

  async mounts(ns: string, snapshotter: string, key: string): Promise<Mount[]> {
    const backend = this.backend(snapshotter);
    const row = this.d.meta.get(ns, snapshotter, key);
    if (row.kind === 'COMMITTED') throw new FailedPreconditionError(`mounts of snapshot ${key}: snapshot is committed, not active`);
    return backend.mounts(row.backend_key);
  }

  /** `rebaseOnto`: commit a snapshot prepared without a parent onto this committed one (backends with `rebase`). */
  commit(ns: string, snapshotter: string, name: string, key: string, labels: Labels, lease?: string, rebaseOnto?: string): Promise<void> {
    const backend = this.backend(snapshotter);
    if (!name) throw new InvalidArgumentError(`commit snapshot ${key}: name must not be empty`);
    validateLabels(labels, `snapshot ${name}`);
    return this.lock(snapshotter).run(async () => {
      const row = this.d.meta.get(ns, snapshotter, key);
      if (row.kind !== 'ACTIVE') throw new FailedPreconditionError(`commit snapshot ${key}: snapshot is ${row.kind.toLowerCase()}, not active`);
      if (this.d.meta.find(ns, snapshotter, name)) throw new AlreadyExistsError(`snapshot ${name}: already exists`);
      let parent = row.parent;
      let parentBackend: string | undefined;
      if (rebaseOnto) {
        if (row.parent) throw new FailedPreconditionError(`commit snapshot ${key} onto ${rebaseOnto}: only a snapshot prepared without a parent can be rebased`);
        const p = this.d.meta.find(ns, snapshotter, rebaseOnto);
        if (!p) throw new NotFoundError(`parent snapshot ${rebaseOnto} does not exist`);
        if (p.kind !== 'COMMITTED') throw new InvalidArgumentError(`parent snapshot ${rebaseOnto}: must be committed, is ${p.kind.toLowerCase()}`);
        parent = rebaseOnto;
        parentBackend = p.backend_key;
      }
      const backendName = this.d.meta.newBackendKey(ns, name);
      await backend.commit(backendName, row.backend_key, parentBackend);
      this.d.meta.transaction(() => {
        this.d.meta.delete(ns, snapshotter, key);
        this.d.meta.insert({
          namespace: ns, snapshotter, key: name, backend_key: backendName, parent, kind: 'COMMITTED',
          labels: toJson({ ...fromJson<Labels>(row.labels, {}), ...labels }),
        });
        this.d.leases.forgetResource(ns, { type: `snapshots/${snapshotter}`, id: key });
        if (lease && this.d.leases.exists(ns, lease)) this.addToLease(ns, lease, snapshotter, name);
      });
      this.d.events.emit(ns, '/snapshot/commit', { key, name });
    });
  }

  remove(ns: string, snapshotter: string, key: string): Promise<void> {
    const backend = this.backend(snapshotter);
    return this.lock(snapshotter).run(async () => {
      const row = this.d.meta.get(ns, snapshotter, key);
      if (this.d.meta.hasChildren(ns, snapshotter, key)) throw new FailedPreconditionError(`remove snapshot ${key}: cannot remove snapshot with child`);
      await backend.remove(row.backend_key);
      this.d.meta.delete(ns, snapshotter, key);
      this.d.leases.forgetResource(ns, { type: `snapshots/${snapshotter}`, id: key });
      this.d.events.emit(ns, '/snapshot/remove', { key });
    });
  }

  stat(ns: string, snapshotter: string, key: string): SnapshotInfo {
    this.backend(snapshotter);
    return toSnapshotInfo(this.d.meta.get(ns, snapshotter, key));
  }

  /** The info when the snapshot exists, else undefined. */
  find(ns: string, snapshotter: string, key: string): SnapshotInfo | undefined {
    const r = this.d.meta.find(ns, snapshotter, key);
    return r && toSnapshotInfo(r);
  }

  update(ns: string, snapshotter: string, info: SnapshotInfo, paths: string[] | undefined): SnapshotInfo {
    this.backend(snapshotter);
    const row = this.d.meta.get(ns, snapshotter, info.name);
    let labels: Labels;
    if (!paths || paths.length === 0) labels = info.labels ?? {};
    else {
      const applied = applyLabelPaths(fromJson(row.labels, {}), info.labels ?? {}, paths);
      if (applied.rest.length > 0) throw new InvalidArgumentError(`update snapshot ${info.name}: cannot update ${applied.rest.join(', ')}`);
      labels = applied.labels;
    }
    this.d.meta.setLabels(ns, snapshotter, info.name, validateLabels(labels, `snapshot ${info.name}`));
    return this.stat(ns, snapshotter, info.name);
  }

  list(ns: string, snapshotter: string, filters: string[]): SnapshotInfo[] {
    this.backend(snapshotter);
    const match = compileFilters(filters);
    return this.d.meta.list(ns, snapshotter).map(toSnapshotInfo).filter((s) => match((p) => {
      if (p[0] === 'labels') return s.labels[p.slice(1).join('.')];
      if (p[0] === 'name') return s.name;
      if (p[0] === 'parent') return s.parent;
      if (p[0] === 'kind') return s.kind.toLowerCase();
      return undefined;
    }));
  }

  async usage(ns: string, snapshotter: string, key: string): Promise<SnapshotUsage> {
    const backend = this.backend(snapshotter);
    return backend.usage(this.d.meta.get(ns, snapshotter, key).backend_key);
  }

  /** Removes what GC swept, children before parents (a backend refuses a parent with children). */
  async removeSwept(plan: SweepPlan): Promise<void> {
    let pending = plan.snapshots;
    for (let pass = 0; pending.length > 0 && pass < 64; pass++) {
      const retry: typeof pending = [];
      for (const s of pending) {
        const backend = this.backends.get(s.snapshotter);
        if (!backend) continue;
        try {
          await this.lock(s.snapshotter).run(() => backend.remove(s.backendKey));
          this.d.events.emit(s.namespace, '/snapshot/remove', { key: s.key });
        } catch (err) {
          if (err instanceof NotFoundError) continue;
          retry.push(s);
          if (pass === 63) this.d.log.warn({ err, key: s.key }, 'garbage collection could not remove a snapshot');
        }
      }
      if (retry.length === pending.length) {
        for (const s of retry) this.d.log.warn({ key: s.key, snapshotter: s.snapshotter }, 'garbage collection could not remove a snapshot');
        break;
      }
      pending = retry;
    }
  }
}
