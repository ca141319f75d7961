/**
 * Unpacking an image's layers into snapshots named by chainID (containerd's rootfs.ApplyLayers): for each layer,
 * bottom first, an existing committed snapshot is reused; otherwise prepare(tmp key, parent chainID) → apply the
 * layer blob onto the mounts → commit(chainID). A failed apply removes its active snapshot, so nothing half
 * unpacked stays. Two unpacks of the same image may race: the loser's commit finds the name taken and it
 * discards its copy.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isAlreadyExists, isNotFound, wrap } from '@berth/errdefs';
import { applyLayerToMounts, chainIDs, type ApplyOptions } from '@berth/layer-store';
import type { Descriptor, Digest } from '@berth/oci';
import type { Snapshotter } from './snapshotter.ts';

/** containerd's unpacker labels each committed layer snapshot with its chainID under this key. */
export const LABEL_SNAPSHOT_REF = 'containerd.io/snapshot.ref';

export interface UnpackOptions {
  /** Opens a layer blob (e.g. `(d) => contentStore.read(d.digest)`). */
  open(layer: Descriptor): Readable | AsyncIterable<Uint8Array> | Promise<Readable | AsyncIterable<Uint8Array>>;
  /** Labels for each committed snapshot (besides containerd.io/snapshot.ref). */
  labels?: Record<string, string>;
  /** Limits and the like, passed to applyLayer. */
  apply?: Pick<ApplyOptions, 'maxEntries' | 'maxBytes' | 'maxRatio' | 'signal'>;
  /** Progress per layer: `exists` (skipped), `extracting`, `done`. */
  onLayer?: (e: { index: number; layer: Descriptor; chainID: Digest; status: 'exists' | 'extracting' | 'done' }) => void;
}

export interface UnpackResult {
  /** chainID of the whole stack: the parent for a container's rootfs snapshot. */
  chainID: Digest;
  chainIDs: Digest[];
  /** How many layers were extracted (the rest existed). */
  extracted: number;
}

/** Applies `layers` (whose uncompressed digests are `diffIDs`, from the image config) into `snapshotter`. */
export async function unpackLayers(snapshotter: Snapshotter, layers: Descriptor[], diffIDs: Digest[],
  opts: UnpackOptions): Promise<UnpackResult> {
  if (layers.length !== diffIDs.length) {
    throw wrap(new Error(`${layers.length} layers but ${diffIDs.length} diffIDs`), 'unpack');
  }
  const ids = chainIDs(diffIDs);
  let extracted = 0;
  const template = (snapshotter as { whiteoutTemplate?: string }).whiteoutTemplate;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    const chainID = ids[i]!;
    const parent = i > 0 ? ids[i - 1] : undefined;
    if (await exists(snapshotter, chainID)) {
      opts.onLayer?.({ index: i, layer, chainID, status: 'exists' });
      continue;
    }
    opts.onLayer?.({ index: i, layer, chainID, status: 'extracting' });
    const key = `extract-${randomBytes(6).toString('hex')} ${chainID}`;
    const mounts = await snapshotter.prepare(key, parent);
    try {
      const stream = await opts.open(layer);
      await applyLayerToMounts(stream, mounts, {
        ...opts.apply, expectedDiffID: diffIDs[i]!, ...(template ? { whiteoutTemplate: template } : {}),
      });
      try {
        await snapshotter.commit(chainID, key, { labels: { ...opts.labels, [LABEL_SNAPSHOT_REF]: chainID } });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        await snapshotter.remove(key); // someone else unpacked the same layer meanwhile
      }
      extracted++;
    } catch (err) {
      await snapshotter.remove(key).catch(() => {});
      throw wrap(err, `unpack layer ${layer.digest}`);
    }
    opts.onLayer?.({ index: i, layer, chainID, status: 'done' });
  }
  return { chainID: ids.at(-1)!, chainIDs: ids, extracted };
}

async function exists(s: Snapshotter, name: string): Promise<boolean> {
  try {
    const info = await s.stat(name);
    return info.kind === 'committed';
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
