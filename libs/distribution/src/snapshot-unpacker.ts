/**
 * The Unpacker for a Snapshotter: each layer becomes the committed snapshot named by its chainID (containerd's
 * unpacker, as @berth/snapshotter's unpackLayers does for stored blobs), applied from the pull's stream:
 * prepare(tmp key, parent chainID) → applyLayerToMounts (diffID verified) → wait for the blob's verification →
 * commit(chainID). Any failure removes the active snapshot; a commit that finds the name taken (a concurrent
 * unpack of the same layer) discards its copy.
 */
import { randomBytes } from 'node:crypto';
import { isAlreadyExists, isNotFound } from '@berth/errdefs';
import { applyLayerToMounts, type ApplyOptions } from '@berth/layer-store';
import { LABEL_SNAPSHOT_REF, type Snapshotter } from '@berth/snapshotter';
import type { Unpacker } from './pull.ts';

export interface SnapshotUnpackerOptions {
  /** Labels for each committed snapshot (besides `containerd.io/snapshot.ref`). */
  labels?: Record<string, string>;
  /** Limits passed to applyLayer. */
  apply?: Pick<ApplyOptions, 'maxEntries' | 'maxBytes' | 'maxRatio' | 'signal'>;
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
        await applyLayerToMounts(content.stream, mounts, {
          ...opts.apply, compression: 'none', expectedDiffID: layer.diffId, ...(template ? { whiteoutTemplate: template } : {}),
        });
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
