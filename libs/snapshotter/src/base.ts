/**
 * What both snapshotters share: metadata (metastore.ts), the on-disk layout and the transactional dance.
 *   <root>/metadata.db          snapshot rows (the id of a row names its directory)
 *   <root>/snapshots/<id>/fs    the snapshot's tree (overlay: its upper dir; native: the full tree)
 *   <root>/snapshots/<id>/work  overlay's work dir
 * New snapshots are built in `snapshots/new-*` and renamed to `<id>` inside the transaction that creates the
 * row; removed ones are renamed to `rm-<id>` inside the transaction that deletes the row and deleted after,
 * in the background (remove() does not wait for it; close() does). A crash leaves at most such directories,
 * which `cleanup()` (run at open) removes.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, NotImplementedError } from '@berth/errdefs';
import type { Mount } from '@berth/layer-store';
import { MetaStore, type SnapshotRow } from './metastore.ts';
import type { CommitOptions, SnapshotInfo, SnapshotOptions, Snapshotter, SnapshotterCapability, Usage } from './snapshotter.ts';
import { DEFERRED_REMOVAL_MS, removeTree } from './remove-tree.ts';
import { diskUsage } from './usage.ts';

export abstract class BaseSnapshotter implements Snapshotter {
  abstract readonly capabilities: readonly SnapshotterCapability[];
  readonly root: string;
  protected readonly meta: MetaStore;
  protected readonly snapshotsDir: string;

  protected constructor(root: string) {
    this.root = root;
    this.snapshotsDir = path.join(root, 'snapshots');
    mkdirSync(this.snapshotsDir, { recursive: true, mode: 0o700 });
    this.meta = new MetaStore(root);
  }

  /** The directory of a snapshot's tree (overlay: upper dir). */
  fsDir(id: number): string {
    return path.join(this.snapshotsDir, String(id), 'fs');
  }

  protected workDir(id: number): string {
    return path.join(this.snapshotsDir, String(id), 'work');
  }

  /** Fills a new snapshot directory (`fs`, and `work` for overlay) for a child of `parent`. */
  protected abstract populate(dir: string, parent: SnapshotRow | undefined, kind: 'active' | 'view'): Promise<void>;

  protected abstract mountsFor(row: SnapshotRow): Mount[];

  async stat(key: string): Promise<SnapshotInfo> {
    return this.meta.info(this.meta.get(key));
  }

  async update(info: { name: string; labels: Record<string, string> }, fieldpaths?: string[]): Promise<SnapshotInfo> {
    return this.meta.info(this.meta.updateLabels(info.name, info.labels ?? {}, fieldpaths));
  }

  async usage(key: string): Promise<Usage> {
    const row = this.meta.get(key);
    if (row.kind !== 'committed') return diskUsage(this.fsDir(row.id));
    if (row.size >= 0) return { size: row.size, inodes: row.inodes };
    // Committed trees never change: measured on first request, then remembered.
    const u = await diskUsage(this.fsDir(row.id));
    this.meta.setUsage(row.id, u);
    return u;
  }

  async mounts(key: string): Promise<Mount[]> {
    const row = this.meta.get(key);
    if (row.kind === 'committed') throw new FailedPreconditionError(`snapshot ${key} is committed: only active snapshots and views have mounts`);
    return this.mountsFor(row);
  }

  prepare(key: string, parent?: string, opts?: SnapshotOptions): Promise<Mount[]> {
    return this.create('active', key, parent, opts);
  }

  view(key: string, parent?: string, opts?: SnapshotOptions): Promise<Mount[]> {
    return this.create('view', key, parent, opts);
  }

  private async create(kind: 'active' | 'view', key: string, parent: string | undefined, opts: SnapshotOptions = {}): Promise<Mount[]> {
    // Fail fast (before any copying) on the common errors; the transaction re-checks everything.
    if (this.meta.find(key)) throw new AlreadyExistsError(`snapshot ${key}: already exists`);
    const parentRow = parent ? this.meta.find(parent) : undefined;
    if (parent && !parentRow) throw new NotFoundError(`parent snapshot ${parent} does not exist`);
    if (parentRow && parentRow.kind !== 'committed') throw new InvalidArgumentError(`parent snapshot ${parent} is not a committed snapshot`);
    const tmp = path.join(this.snapshotsDir, `new-${randomBytes(6).toString('hex')}`);
    try {
      await this.populate(tmp, parentRow, kind);
      const row = this.meta.transaction(() => {
        const r = this.meta.create(key, kind, parent, opts.labels ?? {});
        renameSync(tmp, path.join(this.snapshotsDir, String(r.id)));
        return r;
      });
      return this.mountsFor(row);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  async commit(name: string, key: string, opts: CommitOptions = {}): Promise<void> {
    const row = this.meta.get(key);
    if (row.kind !== 'active') throw new FailedPreconditionError(`snapshot ${key} is not active`);
    if (opts.parent !== undefined && !this.capabilities.includes('rebase')) {
      throw new NotImplementedError(`commit snapshot ${key} onto ${opts.parent}: this snapshotter cannot rebase`);
    }
    // Usage is measured lazily (see usage()): walking a large tree here would slow every unpack.
    this.meta.transaction(() => this.meta.commit(name, key, { size: -1, inodes: -1 }, opts.labels, opts.parent));
  }

  /** Trees of removed snapshots still being deleted. */
  private readonly deleting = new Set<Promise<void>>();

  async remove(key: string): Promise<void> {
    const trash = this.meta.transaction(() => {
      const row = this.meta.remove(key);
      const t = path.join(this.snapshotsDir, `rm-${row.id}`);
      try {
        renameSync(path.join(this.snapshotsDir, String(row.id)), t);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      return t;
    });
    // The snapshot is gone once its row and its directory's name are: the caller does not wait for the tree
    // (a container's upper dir may be large), which is deleted once the client's next calls are served.
    const p: Promise<void> = removeTree(trash, DEFERRED_REMOVAL_MS)
      .catch(() => {}) // left for cleanup() at the next open
      .finally(() => this.deleting.delete(p));
    this.deleting.add(p);
  }

  async walk(fn: (info: SnapshotInfo) => void | Promise<void>, filter?: (info: SnapshotInfo) => boolean): Promise<void> {
    for (const row of this.meta.all()) {
      const info = this.meta.info(row);
      if (!filter || filter(info)) await fn(info);
    }
  }

  async cleanup(): Promise<void> {
    const ids = this.meta.ids();
    for (const name of await readdir(this.snapshotsDir)) {
      if (/^\d+$/.test(name) && ids.has(Number(name))) continue;
      await rm(path.join(this.snapshotsDir, name), { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.deleting);
    this.meta.close();
  }
}
