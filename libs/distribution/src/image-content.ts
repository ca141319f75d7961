/**
 * Images as the archives see them. An *image record* is a name and a target descriptor (containerd's image:
 * the target is a manifest or an index in the content store); `imageContent` walks a record's target to what
 * an export needs: the whole index when every platform's content is present, else the platform's manifest
 * (a single-platform pull of a multi-platform image), plus config and layers.
 */
import { FailedPreconditionError, NotFoundError, isNotFound } from '@berth/errdefs';
import {
  type Descriptor, type ImageConfig, type ImageManifest, type Platform, defaultPlatform, formatPlatform,
  isNonDistributableMediaType, parseManifest, selectPlatformEntry, validateImageConfig,
} from '@berth/oci';
import type { BlobStore } from './store.ts';

/** An image record: what runtimed/berthd keep per image name. */
export interface ImageRecord {
  /** Full normalized reference: `docker.io/library/busybox:latest`. */
  name: string;
  target: Descriptor;
}

export interface ManifestContent {
  desc: Descriptor;
  bytes: Buffer;
  manifest: ImageManifest;
  config: ImageConfig;
  configBytes: Buffer;
}

export interface ImageContent {
  /** What to reference (an index only when all of it is present). */
  root: Descriptor;
  rootBytes: Buffer;
  /** The manifests under root (just root itself for a single manifest). */
  manifests: ManifestContent[];
  /** The manifest for the requested platform (the one `docker save`'s manifest.json describes). */
  platform: ManifestContent;
}

async function readOptional(store: BlobStore, desc: Descriptor): Promise<Buffer | undefined> {
  try {
    return await store.readAll(desc.digest);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function manifestContent(
  store: BlobStore, desc: Descriptor, bytes: Buffer, requireLayers: boolean,
): Promise<ManifestContent | undefined> {
  const p = parseManifest(bytes, desc.mediaType);
  if (p.kind !== 'manifest') return undefined;
  const configBytes = await readOptional(store, p.manifest.config);
  if (!configBytes) return undefined;
  if (requireLayers) {
    for (const l of p.manifest.layers) {
      if (isNonDistributableMediaType(l.mediaType) && l.urls?.length) continue;
      if (!(await store.stat(l.digest))) return undefined;
    }
  }
  const config = validateImageConfig(JSON.parse(configBytes.toString('utf8')));
  const plain: Descriptor = { mediaType: p.mediaType, digest: desc.digest, size: desc.size };
  if (desc.platform) plain.platform = desc.platform;
  return { desc: plain, bytes, manifest: p.manifest, config, configBytes };
}

export async function imageContent(store: BlobStore, target: Descriptor, platform: Platform = defaultPlatform(), what = 'image'): Promise<ImageContent> {
  const rootBytes = await readOptional(store, target);
  if (!rootBytes) throw new NotFoundError(`${what}: content ${target.digest} not found`);
  const parsed = parseManifest(rootBytes, target.mediaType);
  if (parsed.kind === 'manifest') {
    const m = await manifestContent(store, target, rootBytes, true);
    if (!m) throw new FailedPreconditionError(`${what}: content of ${target.digest} is incomplete`);
    return { root: m.desc, rootBytes, manifests: [m], platform: m };
  }
  if (parsed.kind !== 'index') throw new FailedPreconditionError(`${what}: unsupported manifest type ${parsed.mediaType}`);
  const manifests: ManifestContent[] = [];
  let complete = true;
  for (const d of parsed.index.manifests) {
    const b = await readOptional(store, d);
    const m = b && (await manifestContent(store, d, b, true));
    if (!m) {
      complete = false;
      continue;
    }
    manifests.push(m);
  }
  const entry = selectPlatformEntry(manifests.map((m) => ({ ...m.desc, m })), platform);
  const chosen = entry?.m ?? (manifests.length === 1 ? manifests[0] : undefined);
  if (!chosen) throw new NotFoundError(`${what}: no manifest for ${formatPlatform(platform)} in ${target.digest}`);
  if (complete) {
    return { root: { mediaType: parsed.mediaType, digest: target.digest, size: target.size }, rootBytes, manifests, platform: chosen };
  }
  const { platform: _p, ...plain } = chosen.desc;
  return { root: plain, rootBytes: chosen.bytes, manifests: [chosen], platform: chosen };
}
