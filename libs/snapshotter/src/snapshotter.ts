/**
 * The Snapshotter (containerd's interface and vocabulary).
 *
 * A snapshot is a directory tree built on an optional parent. *Active* snapshots are writable and addressed by
 * a *key*; *views* are read-only, also by key; *committed* snapshots are immutable and addressed by a *name*
 * (keys and names share one namespace). Only committed snapshots can be parents. The usual life cycle:
 * `prepare(key, parent)` → mount and change → `commit(name, key)`; image layers are unpacked that way with the
 * layer's chainID as the name (see unpack.ts).
 *
 * A snapshotter never mounts anything: `prepare`, `view` and `mounts` return the mounts (containerd's
 * `{type, source, options}`) for the caller to perform (the shim, or tests with mount(8)). Overlay mounts with
 * many lowers may need `compactMountOptions` (a chdir and relative paths) to fit mount(2)'s one-page limit.
 *
 * Errors (@berth/errdefs): NotFoundError for unknown keys; AlreadyExistsError for a key or name in use;
 * FailedPreconditionError for committing a non-active snapshot, mounting a committed one, removing one that
 * has children, or rebasing one that was prepared on a parent; InvalidArgumentError for a parent that is not
 * committed; NotImplementedError for a rebase where the snapshotter cannot.
 */
import type { Mount } from '@berth/layer-store';

export type { Mount };

export type SnapshotKind = 'view' | 'active' | 'committed';

export interface SnapshotInfo {
  /** The key (active/view) or name (committed). */
  name: string;
  /** Name of the parent (committed), if any. */
  parent?: string;
  kind: SnapshotKind;
  createdAt: Date;
  updatedAt: Date;
  labels: Record<string, string>;
}

export interface Usage {
  /** Bytes used on disk by this snapshot alone (not its parents). */
  size: number;
  inodes: number;
}

export interface SnapshotOptions {
  labels?: Record<string, string>;
}

export interface CommitOptions extends SnapshotOptions {
  /**
   * Rebase (only where `capabilities` has `rebase`): commit onto this committed snapshot, not onto the parent
   * the snapshot was prepared on — which must be none. The snapshot's tree is then taken as a diff that holds
   * under any parent, e.g. a layer applied with @berth/layer-store's `detached` option while the layer below
   * was still being applied. This is how layers are unpacked in parallel and still stacked in order.
   */
  parent?: string;
}

/** Optional abilities of a snapshotter (containerd's capability strings). */
export type SnapshotterCapability = 'rebase';

export interface Snapshotter {
  readonly capabilities: readonly SnapshotterCapability[];
  stat(key: string): Promise<SnapshotInfo>;
  /** Changes labels (`fieldpaths`: `labels` or `labels.<key>`; none: all labels); name, parent, kind are immutable. */
  update(info: { name: string; labels: Record<string, string> }, fieldpaths?: string[]): Promise<SnapshotInfo>;
  usage(key: string): Promise<Usage>;
  /** Mounts of an active snapshot or view. */
  mounts(key: string): Promise<Mount[]>;
  prepare(key: string, parent?: string, opts?: SnapshotOptions): Promise<Mount[]>;
  view(key: string, parent?: string, opts?: SnapshotOptions): Promise<Mount[]>;
  /** Turns the active snapshot `key` into the committed snapshot `name` (the key is gone afterwards). */
  commit(name: string, key: string, opts?: CommitOptions): Promise<void>;
  remove(key: string): Promise<void>;
  walk(fn: (info: SnapshotInfo) => void | Promise<void>, filter?: (info: SnapshotInfo) => boolean): Promise<void>;
  /** Removes directories left behind by a crash (no metadata points at them). */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}
