/**
 * The Unpacker for a Snapshotter: each layer becomes the committed snapshot named by its chainID (containerd's
 * unpacker, as @berth/snapshotter's unpackLayers does for stored blobs), applied from the pull's stream:
 * prepare(tmp key, parent chainID) → applyLayerToMounts (diffID verified; on a worker thread by default, see
 * worker-apply.ts) → wait for the blob's verification → commit(chainID). Any failure removes the active
 * snapshot; a commit that finds the name taken (a concurrent unpack of the same layer) discards its copy.
 */
import { randomBytes } from 'node:crypto';
import { isAlreadyExists, isNotFound } from '@berth/errdefs';
import { applyLayerToMounts, type ApplyOptions } from '@berth/layer-store';
import { LABEL_SNAPSHOT_REF, type Snapshotter } from '@berth/snapshotter';
import type { Unpacker } from './pull.ts';
import { applyLayerInWorker } from './worker-apply.ts';

export interface SnapshotUnpackerOptions {
  /** Labels for each committed snapshot (besides `containerd.io/snapshot.ref`). */
  labels?: Record<string, string>;
  /** Limits passed to applyLayer. */
  apply?: Pick<ApplyOptions, 'maxEntries' | 'maxBytes' | 'maxRatio'>;
  /** Apply on a worker thread (default), beside the downloads on the main thread. */
  inWorker?: boolean;
}

export function snapshotUnpacker(snapshotter: Snapshotter, opts: SnapshotUnpackerOptions = {}): Unpacker {
  const template = (snapshotter as { whiteoutTemplate?: string }).whiteoutTemplate;
  return {
    async exists(layer) {
      try {
        return (await snapshotter.stat(layer.chainId)).kind === 'committed';
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
    async apply(layer, content) {
      const key = `extract-${randomBytes(6).toString('hex')} ${layer.chainId}`;
      const mounts = await snapshotter.prepare(key, layer.parentChainId);
      try {
        const applyOpts = { ...opts.apply, compression: 'none' as const, expectedDiffID: layer.diffId, ...(template ? { whiteoutTemplate: template } : {}) };
        if (opts.inWorker ?? true) await applyLayerInWorker(content.stream, mounts, applyOpts);
        else await applyLayerToMounts(content.stream, mounts, applyOpts);
        await content.verified;
        try {
          await snapshotter.commit(layer.chainId, key, { labels: { ...opts.labels, [LABEL_SNAPSHOT_REF]: layer.chainId } });
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
          await snapshotter.remove(key);
        }
      } catch (err) {
        await snapshotter.remove(key).catch(() => {});
        throw err;
      }
    },
  };
}
