/**
 * `docker import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image. The tar is checked as it
 * streams, recompressed with gzip into the content store (diffID and blob digest computed in the same pass),
 * and given a config built from `--change` instructions and the commit message. `exportFilesystem` is the
 * reverse (`docker export`): a tar of a mounted container root.
 */
import { randomBytes } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { InvalidArgumentError } from '@berth/errdefs';
import { TarFormatError, TarParser, childGcLabels, compressLayer, diffLayer, type ContentStore } from '@berth/layer-store';
import {
  type Descriptor, type ImageConfig, type ImageManifest, type Platform, MediaTypeImageConfig, MediaTypeImageLayerGzip,
  MediaTypeImageManifest, defaultPlatform, digestOf, normalizePlatform, parsePlatform,
} from '@berth/oci';
import { applyChanges } from './changes.ts';
import { blobStoreOf } from './content.ts';
import type { LoadedImage } from './load.ts';
import { decompressed } from './tar-stream.ts';

export interface ImportOptions {
  contentStore: ContentStore;
  /** Dockerfile instructions to apply (`CMD ["/bin/sh"]`, `ENV A=b`, …). */
  changes?: string[];
  /** The commit message (Docker's `-m`); default `Imported from -`. */
  message?: string;
  /** The image's platform (default: this host's). */
  platform?: Platform | string;
  /** Creation time (default: now). */
  created?: Date;
}

/** Lets bytes through while checking they form a tar; fails the stream on garbage. */
class TarCheck extends Transform {
  private readonly parser = new TarParser({ entry: () => {}, data: () => {}, entryEnd: () => {} });

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      if (!this.parser.ended) this.parser.push(chunk);
      cb(null, chunk);
    } catch (err) {
      cb(new InvalidArgumentError(`import: the input is not a tar archive: ${(err as Error).message}`));
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.parser.end();
      cb();
    } catch (err) {
      cb(new InvalidArgumentError(`import: the input is not a tar archive: ${err instanceof TarFormatError ? err.message : String(err)}`));
    }
  }
}

/** Imports a rootfs tarball as a one-layer image (untagged: the engine names it). */
export async function importRootfs(input: Readable | AsyncIterable<Buffer>, opts: ImportOptions): Promise<LoadedImage> {
  const store = blobStoreOf(opts.contentStore);
  const platform = opts.platform === undefined ? defaultPlatform() : typeof opts.platform === 'string' ? parsePlatform(opts.platform) : normalizePlatform(opts.platform);
  // Validate the changes before reading anything.
  const execConfig = applyChanges(undefined, opts.changes ?? []);
  const tar = Readable.from(decompressed(input as AsyncIterable<Buffer>)).pipe(new TarCheck());
  const layer = compressLayer(tar, 'gzip');
  const ing = await store.ingestAny(`import-${randomBytes(8).toString('hex')}`);
  const created: Descriptor[] = [];
  try {
    for await (const c of layer.stream as AsyncIterable<Buffer>) await ing.write(c);
    const sums = await layer.done;
    const r = await ing.commit();
    const layerDesc: Descriptor = { mediaType: MediaTypeImageLayerGzip, digest: r.digest, size: r.size };
    if (r.created) created.push(layerDesc);
    const when = (opts.created ?? new Date()).toISOString();
    const comment = opts.message ?? 'Imported from -';
    const config: ImageConfig = {
      architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}),
      created: when, comment, config: execConfig,
      rootfs: { type: 'layers', diff_ids: [sums.diffID] },
      history: [{ created: when, comment }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDesc: Descriptor = { mediaType: MediaTypeImageConfig, digest: digestOf(configBytes), size: configBytes.length };
    if (await store.put(configDesc, configBytes)) created.push(configDesc);
    const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaTypeImageManifest, config: configDesc, layers: [layerDesc] };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const desc: Descriptor = { mediaType: MediaTypeImageManifest, digest: digestOf(bytes), size: bytes.length };
    await store.put(desc, bytes, childGcLabels(manifest));
    return { names: [], target: desc, manifest: desc, config: configDesc };
  } catch (err) {
    await ing.abort();
    for (const d of created) await store.delete(d.digest).catch(() => {});
    throw err;
  }
}

/** `docker export`: the tar of a container's (mounted) root filesystem. */
export function exportFilesystem(rootfs: string): Readable {
  return diffLayer({ mode: 'trees', upper: rootfs });
}
