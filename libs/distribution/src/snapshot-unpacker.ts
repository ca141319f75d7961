/**
 * The Unpacker for a Snapshotter: each layer becomes the committed snapshot named by its chainID (containerd's
 * unpacker, as @berth/snapshotter's unpackLayers does for stored blobs), applied from the pull's stream
 * (diffID verified; on a worker thread by default, see worker-apply.ts), committed once the blob is verified.
 * Any failure removes the active snapshot; a commit that finds the name taken (a concurrent unpack of the same
 * layer) discards its copy.
 *
 * Layers are applied in parallel where the snapshotter can rebase (overlayfs): a layer whose parent snapshot
 * is not committed yet is applied `detached` into a parentless snapshot (its upper dir, without looking below)
 * and committed onto the parent once the layer below is done. Parent directories the layer lacks are made for
 * it and, once the layers below are committed, given what copy-up would have given them (settleImplicitDirs).
 * A layer that turns out to need the layers below (a hard-link target it does not contain, a lower symlink or
 * file where it made a directory) is applied again, from the store, on its parent.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isAlreadyExists, isNotFound } from '@berth/errdefs';
import { applyLayerToMounts, needsLowerLayers, overlayDirs, settleImplicitDirs, type ApplyOptions, type Mount } from '@berth/layer-store';
import { LABEL_SNAPSHOT_REF, type Snapshotter } from '@berth/snapshotter';
import type { UnpackLayer, Unpacker } from './pull.ts';
import { applyLayerInWorker } from './worker-apply.ts';

export interface SnapshotUnpackerOptions {
  /** Labels for each committed snapshot (besides `containerd.io/snapshot.ref`). */
  labels?: Record<string, string>;
  /** Limits passed to applyLayer. */
  apply?: Pick<ApplyOptions, 'maxEntries' | 'maxBytes' | 'maxRatio'>;
  /** Apply on worker threads (default), beside the downloads on the main thread. */
  inWorker?: boolean;
  /** Apply layers in parallel where the snapshotter can rebase (default true). */
  parallel?: boolean;
}

/** What the unpacker uses of a Snapshotter (runtimed hands it a namespaced view of its own). */
export type UnpackSnapshotter = Pick<Snapshotter, 'capabilities' | 'stat' | 'prepare' | 'commit' | 'remove'> & { readonly whiteoutTemplate?: string };

export function snapshotUnpacker(snapshotter: UnpackSnapshotter, opts: SnapshotUnpackerOptions = {}): Unpacker {
  const template = snapshotter.whiteoutTemplate;
  const parallel = (opts.parallel ?? true) && snapshotter.capabilities.includes('rebase');
  const labels = (layer: UnpackLayer) => ({ ...opts.labels, [LABEL_SNAPSHOT_REF]: layer.chainId });
  // The layer comes as stored and is decompressed where it is applied (on the worker); the pull itself never
  // limited the compression ratio, so only a ratio given here does.
  const applyTo = (stream: Readable, mounts: Mount[], layer: UnpackLayer, detached: boolean) => {
    const applyOpts = {
      maxRatio: Infinity, ...opts.apply, compression: 'auto' as const, expectedDiffID: layer.diffId,
      ...(template ? { whiteoutTemplate: template } : {}), ...(detached ? { detached } : {}),
    };
    return (opts.inWorker ?? true) ? applyLayerInWorker(stream, mounts, applyOpts) : applyLayerToMounts(stream, mounts, applyOpts);
  };
  const committed = async (name: string) => {
    try {
      return (await snapshotter.stat(name)).kind === 'committed';
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  };
  /** commit, where a name taken meanwhile (a concurrent unpack of the same layer) is as good as ours. */
  const commit = async (layer: UnpackLayer, key: string, parent?: string) => {
    try {
      await snapshotter.commit(layer.chainId, key, { labels: labels(layer), ...(parent ? { parent } : {}) });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await snapshotter.remove(key);
    }
  };
  /**
   * Directories a detached apply made for entries whose parents the layer lacks get what copy-up would have
   * given them, from the parent chain (now committed); false when the layer must be applied on its parent.
   */
  const settle = async (layer: UnpackLayer, mounts: Mount[], dirs: string[]): Promise<boolean> => {
    const probe = `settle-${randomBytes(6).toString('hex')} ${layer.chainId}`;
    const below = await snapshotter.prepare(probe, layer.parentChainId);
    try {
      settleImplicitDirs(writableDir(mounts), dirs, layerDirsBelow(below));
      return true;
    } catch (err) {
      if (needsLowerLayers(err)) return false;
      throw err;
    } finally {
      await snapshotter.remove(probe).catch(() => {});
    }
  };
  /** prepare on the committed parent → apply → verified → commit. */
  const applyOnParent = async (layer: UnpackLayer, stream: Readable, verified: Promise<void>) => {
    const key = `extract-${randomBytes(6).toString('hex')} ${layer.chainId}`;
    const mounts = await snapshotter.prepare(key, layer.parentChainId);
    try {
      await applyTo(stream, mounts, layer, false);
      await verified;
      await commit(layer, key);
    } catch (err) {
      await snapshotter.remove(key).catch(() => {});
      throw err;
    }
  };
  return {
    parallel,
    compressed: true,
    exists: (layer) => committed(layer.chainId),
    async apply(layer, content) {
      if (!parallel || !layer.parentChainId || await committed(layer.parentChainId)) {
        await applyOnParent(layer, content.stream, content.verified);
        return;
      }
      const key = `extract-${randomBytes(6).toString('hex')} ${layer.chainId}`;
      const mounts = await snapshotter.prepare(key);
      let again = false;
      try {
        let implicit: string[] = [];
        try {
          implicit = (await applyTo(content.stream, mounts, layer, true)).implicitDirs ?? [];
        } catch (err) {
          if (!needsLowerLayers(err)) throw err;
          again = true;
        }
        await content.verified;
        await content.below;
        if (!again && implicit.length > 0) again = !await settle(layer, mounts, implicit);
        if (!again) await commit(layer, key, layer.parentChainId);
      } catch (err) {
        await snapshotter.remove(key).catch(() => {});
        throw err;
      }
      if (again) {
        await snapshotter.remove(key);
        await applyOnParent(layer, content.reopen(), Promise.resolve());
      }
    },
  };
}

/** The directory a parentless active snapshot's layer is written to: a bind mount's source or an overlay's upper. */
function writableDir(mounts: Mount[]): string {
  const m = mounts[0]!;
  return m.type === 'overlay' ? overlayDirs(m).upper ?? m.source : m.source;
}

/** The layer directories below an active snapshot prepared on a parent, top first. */
function layerDirsBelow(mounts: Mount[]): string[] {
  const m = mounts[0]!;
  return m.type === 'overlay' ? overlayDirs(m).lowers : [m.source];
}
