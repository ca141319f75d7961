/**
 * `docker save` / OCI export: the format Docker writes today, an OCI image layout (`oci-layout`, `index.json`,
 * `blobs/sha256/…`) that also carries Docker's `manifest.json` and `repositories`, so both `docker load`
 * (old and new) and OCI tools read it. Blobs are copied as they are in the store (layers stay compressed,
 * manifests keep their digests); the tar is streamed, nothing is staged on disk. `exportOciLayout` writes the
 * same layout into a directory instead.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContentStore } from '@berth/layer-store';
import {
  type Descriptor, type Digest, type ImageIndex, type Platform, AnnotationContainerdImageName, AnnotationRefName,
  ImageLayoutVersion, MediaTypeImageIndex, defaultPlatform, familiarName, layoutBlobPath, normalizePlatform,
  parseNormalizedReference, parsePlatform,
} from '@berth/oci';
import { blobStoreOf } from './content.ts';
import { imageContent, type ImageContent } from './image-content.ts';
import type { BlobStore } from './store.ts';
import { writeTar, type TarWriteEntry } from './tar-stream.ts';

export interface SaveImage {
  target: Descriptor;
  /** Full references to record (`docker.io/library/busybox:latest`); none for an image saved by ID. */
  names?: string[];
}

export interface SaveOptions {
  contentStore: ContentStore;
  /** Platform of the manifest.json entry (and of the manifest kept when an index is incomplete); default: host. */
  platform?: Platform | string;
}

/** Docker's `manifest.json` entry. */
export interface DockerArchiveManifest {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
  LayerSources?: Record<string, Descriptor>;
}

interface Plan {
  blobs: Map<Digest, Descriptor>;
  index: ImageIndex;
  manifestJson: DockerArchiveManifest[];
  repositories: Record<string, Record<string, string>>;
}

function platformOf(p: Platform | string | undefined): Platform {
  return p === undefined ? defaultPlatform() : typeof p === 'string' ? parsePlatform(p) : normalizePlatform(p);
}

/** `docker.io/library/busybox:latest` → `busybox:latest`; digest-only names give no tag. */
function repoTag(name: string): { repo: string; tag?: string } {
  const ref = parseNormalizedReference(name);
  return { repo: familiarName(ref), ...(ref.tag !== undefined ? { tag: ref.tag } : {}) };
}

async function plan(store: BlobStore, images: SaveImage[], platform: Platform): Promise<Plan> {
  const blobs = new Map<Digest, Descriptor>();
  const add = (d: Descriptor) => blobs.set(d.digest, { mediaType: d.mediaType, digest: d.digest, size: d.size });
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests: [] };
  const manifestJson: DockerArchiveManifest[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const img of images) {
    const c: ImageContent = await imageContent(store, img.target, platform, `save ${img.names?.[0] ?? img.target.digest}`);
    for (const m of c.manifests) {
      for (const l of m.manifest.layers) add(l);
      add(m.manifest.config);
      add(m.desc);
    }
    add(c.root);
    const names = img.names ?? [];
    if (names.length === 0) index.manifests.push({ mediaType: c.root.mediaType, digest: c.root.digest, size: c.root.size });
    for (const n of names) {
      const { tag } = repoTag(n);
      index.manifests.push({
        mediaType: c.root.mediaType, digest: c.root.digest, size: c.root.size,
        annotations: { [AnnotationContainerdImageName]: n, ...(tag !== undefined ? { [AnnotationRefName]: tag } : {}) },
      });
    }
    const p = c.platform;
    const layers = p.manifest.layers.map((l) => layoutBlobPath(l.digest));
    const tags = names.map(repoTag).filter((t) => t.tag !== undefined);
    manifestJson.push({ Config: layoutBlobPath(p.manifest.config.digest), RepoTags: tags.map((t) => `${t.repo}:${t.tag}`), Layers: layers });
    const top = p.manifest.layers.at(-1);
    for (const t of tags) {
      if (top) (repositories[t.repo] ??= {})[t.tag!] = top.digest.slice(top.digest.indexOf(':') + 1);
    }
  }
  return { blobs, index, manifestJson, repositories };
}

function metadata(p: Plan): { name: string; data: Buffer }[] {
  return [
    { name: 'index.json', data: Buffer.from(JSON.stringify(p.index)) },
    { name: 'manifest.json', data: Buffer.from(JSON.stringify(p.manifestJson)) },
    { name: 'oci-layout', data: Buffer.from(JSON.stringify({ imageLayoutVersion: ImageLayoutVersion })) },
    { name: 'repositories', data: Buffer.from(JSON.stringify(p.repositories)) },
  ];
}

/**
 * A `docker save` tar of the images. Resolves all content first (so a missing image fails before any byte is
 * produced), then streams.
 */
export async function saveImages(images: SaveImage[], opts: SaveOptions): Promise<Readable> {
  const store = blobStoreOf(opts.contentStore);
  const p = await plan(store, images, platformOf(opts.platform));
  const dirs = new Set<string>(['blobs/']);
  for (const d of p.blobs.keys()) dirs.add(`blobs/${d.slice(0, d.indexOf(':'))}/`);
  function* entries(): Generator<TarWriteEntry> {
    for (const d of dirs) yield { name: d, type: 'dir' };
    for (const b of p.blobs.values()) {
      yield { name: layoutBlobPath(b.digest), mode: 0o444, body: { size: b.size, open: () => store.read(b.digest) } };
    }
    for (const m of metadata(p)) yield { name: m.name, body: m.data };
  }
  return writeTar(entries());
}

/** Writes the images as an OCI image layout in `dir` (created; blobs already there are kept). */
export async function exportOciLayout(images: SaveImage[], dir: string, opts: SaveOptions): Promise<void> {
  const store = blobStoreOf(opts.contentStore);
  const p = await plan(store, images, platformOf(opts.platform));
  for (const b of p.blobs.values()) {
    const file = path.join(dir, layoutBlobPath(b.digest));
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      await pipeline(await store.read(b.digest), createWriteStream(tmp, { mode: 0o444 }));
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true });
    }
  }
  for (const m of metadata(p).filter((x) => x.name === 'index.json' || x.name === 'oci-layout')) {
    const tmp = path.join(dir, `.${m.name}.tmp-${process.pid}`);
    await writeFile(tmp, m.data);
    await rename(tmp, path.join(dir, m.name));
  }
}
