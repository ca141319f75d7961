/**
 * `docker load` / OCI import. Reads, from one streamed pass over the tar (plain, gzip or zstd):
 * - Docker's current format: an OCI layout plus `manifest.json` (targets come from `index.json`, names from
 *   `manifest.json`'s RepoTags);
 * - Docker's legacy format (≤ 24): `manifest.json` with `<id>/layer.tar` and `<config>.json` (a schema 2
 *   manifest is made for it, layers uncompressed as they are);
 * - the pre-1.10 format: `repositories` and `<id>/json` parent chains;
 * - a plain OCI layout (oci-archive; names from `io.containerd.image.name` or a full-reference `ref.name`).
 * Large files go straight into the content store as they stream (their digest verified when their path names
 * it); small ones are held until the format is known. Blobs this load created but nothing references, and all
 * of them when the load fails, are removed: nothing half-stored.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { childGcLabels, type ContentStore } from '@berth/layer-store';
import {
  type Descriptor, type Digest, type ImageConfig, type ImageManifest, AnnotationContainerdImageName, AnnotationRefName,
  MediaTypeDockerImageConfig, MediaTypeDockerLayer, MediaTypeDockerLayerGzip, MediaTypeDockerLayerZstd, MediaTypeDockerManifest,
  createDigester, detectCompression, digestOf, isDigest, normalizeReference, parseManifest, validateImageConfig,
} from '@berth/oci';
import { blobStoreOf } from './content.ts';
import { LayerFeed } from './layer-feed.ts';
import type { ProgressHandler } from './progress.ts';
import type { AnyIngest, BlobStore } from './store.ts';
import { readTar } from './tar-stream.ts';

export interface LoadOptions {
  contentStore: ContentStore;
  onProgress?: ProgressHandler;
}

export interface LoadedImage {
  /** Full references (`docker.io/library/busybox:latest`); empty for an untagged image (`Loaded image ID`). */
  names: string[];
  /** The image record's target (the archive's manifest or index). */
  target: Descriptor;
  /** The platform manifest. */
  manifest: Descriptor;
  /** The config; its digest is the image ID. */
  config: Descriptor;
}

/** Files up to this size are held in memory until the format is known. */
const SMALL = 1 << 20;

type FileEntry =
  | { kind: 'mem'; data: Buffer }
  | { kind: 'blob'; digest: Digest; size: number }
  | { kind: 'link'; target: string }
  /** A file of a layout directory, stored (and verified against `digest`) on first use. */
  | { kind: 'file'; file: string; digest: Digest };

/** Where loaded files live while the archive is interpreted, and which blobs this load created. */
class Loaded {
  readonly files = new Map<string, FileEntry>();
  readonly created = new Set<Digest>();
  readonly used = new Set<Digest>();
  readonly store: BlobStore;

  constructor(store: BlobStore) {
    this.store = store;
  }

  resolve(p: string): FileEntry | undefined {
    let cur = normalizeName(p);
    for (let hops = 0; hops < 16; hops++) {
      const f = this.files.get(cur);
      if (!f || f.kind !== 'link') return f;
      cur = f.target;
    }
    throw new InvalidArgumentError(`invalid archive: too many links at ${p}`);
  }

  has(p: string): boolean {
    return this.resolve(p) !== undefined;
  }

  /** The entry of `p`, with a layout directory's file moved into the store first. */
  private async entry(p: string): Promise<FileEntry | undefined> {
    const f = this.resolve(p);
    if (f?.kind !== 'file') return f;
    const ing = await this.store.ingestAny(`import-${randomBytes(6).toString('hex')}`);
    try {
      for await (const c of createReadStream(f.file) as AsyncIterable<Buffer>) await ing.write(c);
      const r = await ing.commit();
      if (r.created) this.created.add(r.digest);
      if (r.digest !== f.digest) throw new InvalidArgumentError(`invalid OCI layout: ${f.file} has digest ${r.digest}`);
      const blob: FileEntry = { kind: 'blob', digest: r.digest, size: r.size };
      this.files.set(normalizeName(p), blob);
      return blob;
    } catch (err) {
      await ing.abort();
      throw err;
    }
  }

  async read(p: string): Promise<Buffer> {
    const f = await this.entry(p);
    if (!f) throw new InvalidArgumentError(`invalid archive: ${p} is missing`);
    if (f.kind === 'mem') return f.data;
    if (f.kind === 'blob') return this.store.readAll(f.digest);
    throw new Error('unreachable');
  }

  /** The file as a blob in the store (stored now if it was held in memory); its digest verified if `expected`. */
  async blob(p: string, mediaType: string, labels?: Record<string, string>, expected?: Digest): Promise<Descriptor> {
    const f = await this.entry(p);
    if (!f) throw new InvalidArgumentError(`invalid archive: ${p} is missing`);
    let desc: Descriptor;
    if (f.kind === 'mem') {
      desc = { mediaType, digest: digestOf(f.data), size: f.data.length };
      if (expected && expected !== desc.digest) throw new InvalidArgumentError(`invalid archive: ${p} has digest ${desc.digest}, expected ${expected}`);
      if (await this.store.put(desc, f.data, labels)) this.created.add(desc.digest);
    } else if (f.kind === 'blob') {
      desc = { mediaType, digest: f.digest, size: f.size };
      if (expected && expected !== desc.digest) throw new InvalidArgumentError(`invalid archive: ${p} has digest ${desc.digest}, expected ${expected}`);
      if (labels) await this.store.label(desc.digest, labels);
    } else {
      throw new Error('unreachable');
    }
    this.used.add(desc.digest);
    return desc;
  }

  /** The first bytes of a file (to sniff compression). */
  async head(p: string): Promise<Buffer> {
    const f = await this.entry(p);
    if (!f) throw new InvalidArgumentError(`invalid archive: ${p} is missing`);
    if (f.kind === 'mem') return f.data.subarray(0, 8);
    if (f.kind !== 'blob') throw new Error('unreachable');
    const chunks: Buffer[] = [];
    for await (const c of await this.store.read(f.digest, { offset: 0, length: 8 }) as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  }

  /** Removes the blobs this load created that nothing uses (all of them with `all`). */
  async cleanup(all: boolean): Promise<void> {
    for (const d of this.created) if (all || !this.used.has(d)) await this.store.delete(d).catch(() => {});
  }
}

function normalizeName(name: string): string {
  const parts: string[] = [];
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
}

const blobPathRe = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/;

function expectedDigestOfPath(p: string): Digest | undefined {
  const m = blobPathRe.exec(p);
  if (!m) return undefined;
  const d = `${m[1]}:${m[2]}`;
  return isDigest(d) ? d as Digest : undefined;
}

/** Reads the archive's files: small ones into memory, large ones into the store. */
async function readArchive(input: AsyncIterable<Buffer>, l: Loaded, emit?: ProgressHandler): Promise<void> {
  let cur: { name: string; size: number; chunks?: Buffer[]; ingest?: AnyIngest; got: number } | undefined;
  const loadId = randomBytes(6).toString('hex');
  try {
    for await (const ev of readTar(input)) {
      if (ev.type === 'entry') {
        const h = ev.header;
        const name = normalizeName(h.name);
        if (h.type === 'symlink' || h.type === 'link') {
          const target = h.type === 'symlink' ? normalizeName(path.posix.join(path.posix.dirname(name), h.linkname)) : normalizeName(h.linkname);
          l.files.set(name, { kind: 'link', target });
          cur = undefined;
          continue;
        }
        if (h.type !== 'file') {
          cur = undefined;
          continue;
        }
        cur = { name, size: h.size, got: 0 };
        if (h.size <= SMALL) cur.chunks = [];
        else cur.ingest = await l.store.ingestAny(`load-${loadId}-${name}`);
      } else if (ev.type === 'data' && cur) {
        cur.got += ev.chunk.length;
        if (cur.chunks) cur.chunks.push(Buffer.from(ev.chunk));
        else await cur.ingest!.write(ev.chunk);
        if (cur.ingest) emit?.({ id: cur.name.split('/').at(-1)!.slice(0, 12), status: 'Loading layer', current: cur.got, total: cur.size });
      } else if (ev.type === 'entryEnd' && cur) {
        const c = cur;
        cur = undefined;
        if (c.chunks) {
          l.files.set(c.name, { kind: 'mem', data: Buffer.concat(c.chunks) });
          continue;
        }
        const r = await c.ingest!.commit();
        if (r.created) l.created.add(r.digest);
        const expected = expectedDigestOfPath(c.name);
        if (expected && expected !== r.digest) {
          throw new InvalidArgumentError(`invalid archive: ${c.name} has digest ${r.digest}`);
        }
        l.files.set(c.name, { kind: 'blob', digest: r.digest, size: r.size });
      }
    }
  } catch (err) {
    await cur?.ingest?.abort();
    throw err;
  }
}

function layerMediaTypeFor(head: Buffer): string {
  const c = detectCompression(head);
  return c === 'gzip' ? MediaTypeDockerLayerGzip : c === 'zstd' ? MediaTypeDockerLayerZstd : MediaTypeDockerLayer;
}

interface LayoutImage {
  target: Descriptor;
  manifest: Descriptor;
  parsed: ImageManifest;
  config: Descriptor;
}

/** Stores a layout descriptor's tree (bottom-up) and returns its platform manifest (the first one for an index). */
async function storeLayoutTree(l: Loaded, desc: Descriptor, configDigest?: Digest): Promise<LayoutImage | undefined> {
  const p = layoutPath(desc.digest);
  if (!l.has(p)) throw new InvalidArgumentError(`invalid archive: ${p} is missing`);
  const bytes = await l.read(p);
  const parsed = parseManifest(bytes, desc.mediaType);
  if (parsed.kind === 'manifest') {
    const m = parsed.manifest;
    if (configDigest && m.config.digest !== configDigest) return undefined;
    const config = await l.blob(layoutPath(m.config.digest), m.config.mediaType, undefined, m.config.digest);
    for (const layer of m.layers) {
      if (layer.urls?.length && !l.has(layoutPath(layer.digest))) continue;
      await l.blob(layoutPath(layer.digest), layer.mediaType, undefined, layer.digest);
    }
    const manifest = await l.blob(p, parsed.mediaType, childGcLabels(m), desc.digest);
    return { target: manifest, manifest, parsed: m, config };
  }
  if (parsed.kind !== 'index') throw new InvalidArgumentError(`invalid archive: ${desc.digest} is a ${parsed.mediaType}`);
  let first: LayoutImage | undefined;
  const present: Descriptor[] = [];
  for (const child of parsed.index.manifests) {
    if (!l.has(layoutPath(child.digest))) continue;
    const r = await storeLayoutTree(l, child, configDigest);
    if (r) {
      first ??= r;
      present.push(child);
    }
  }
  if (!first) return undefined;
  const target = await l.blob(p, parsed.mediaType, childGcLabels({ manifests: present }), desc.digest);
  return { ...first, target };
}

function layoutPath(d: Digest): string {
  return `blobs/${d.replace(':', '/')}`;
}

interface ArchiveManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

function names(tags: string[] | null | undefined): string[] {
  return (tags ?? []).map((t) => normalizeReference(t));
}

async function loadDockerArchive(l: Loaded): Promise<LoadedImage[]> {
  let entries: ArchiveManifestEntry[];
  try {
    entries = JSON.parse((await l.read('manifest.json')).toString('utf8')) as ArchiveManifestEntry[];
    if (!Array.isArray(entries)) throw new Error('not an array');
  } catch (err) {
    throw new InvalidArgumentError(`invalid archive: manifest.json: ${(err as Error).message}`);
  }
  let layoutIndex: Descriptor[] = [];
  if (l.has('index.json')) {
    try {
      layoutIndex = (JSON.parse((await l.read('index.json')).toString('utf8')) as { manifests?: Descriptor[] }).manifests ?? [];
    } catch {
      layoutIndex = [];
    }
  }
  const out: LoadedImage[] = [];
  for (const e of entries) {
    if (typeof e.Config !== 'string' || !Array.isArray(e.Layers)) throw new InvalidArgumentError('invalid archive: manifest.json entry without Config or Layers');
    const configBytes = await l.read(e.Config);
    const image = validateImageConfig(JSON.parse(configBytes.toString('utf8')));
    const configDigest = digestOf(configBytes);
    // Docker's current format: the original manifest is in the layout; keep it (and its digest).
    for (const d of layoutIndex) {
      if (!l.has(layoutPath(d.digest))) continue;
      const r = await storeLayoutTree(l, d, configDigest);
      if (r) {
        out.push({ names: names(e.RepoTags), target: r.target, manifest: r.manifest, config: r.config });
        break;
      }
    }
    if (out.length && out.at(-1)!.config.digest === configDigest) continue;
    if (image.rootfs.diff_ids.length !== e.Layers.length) {
      throw new InvalidArgumentError(`invalid archive: ${e.Config} lists ${image.rootfs.diff_ids.length} layers, manifest.json ${e.Layers.length}`);
    }
    const layers: Descriptor[] = [];
    for (const lp of e.Layers) layers.push(await l.blob(lp, layerMediaTypeFor(await l.head(lp))));
    out.push(await storeBuiltImage(l, configBytes, layers, names(e.RepoTags)));
  }
  return out;
}

/** Stores a Docker schema 2 manifest for a config and layers from a legacy archive. */
async function storeBuiltImage(l: Loaded, configBytes: Buffer, layers: Descriptor[], imageNames: string[]): Promise<LoadedImage> {
  const configDesc: Descriptor = { mediaType: MediaTypeDockerImageConfig, digest: digestOf(configBytes), size: configBytes.length };
  if (await l.store.put(configDesc, configBytes)) l.created.add(configDesc.digest);
  l.used.add(configDesc.digest);
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaTypeDockerManifest, config: configDesc, layers };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const desc: Descriptor = { mediaType: MediaTypeDockerManifest, digest: digestOf(bytes), size: bytes.length };
  if (await l.store.put(desc, bytes, childGcLabels(manifest))) l.created.add(desc.digest);
  l.used.add(desc.digest);
  return { names: imageNames, target: desc, manifest: desc, config: configDesc };
}

async function loadOciLayout(l: Loaded): Promise<LoadedImage[]> {
  let index: { manifests?: Descriptor[] };
  try {
    index = JSON.parse((await l.read('index.json')).toString('utf8')) as typeof index;
  } catch (err) {
    throw new InvalidArgumentError(`invalid archive: index.json: ${(err as Error).message}`);
  }
  const out: LoadedImage[] = [];
  for (const d of index.manifests ?? []) {
    const r = await storeLayoutTree(l, d);
    if (!r) throw new InvalidArgumentError(`invalid archive: no complete image under ${d.digest}`);
    const ann = d.annotations ?? {};
    const n = ann[AnnotationContainerdImageName] ?? ann[AnnotationRefName];
    let imageNames: string[] = [];
    if (n) {
      try {
        imageNames = [normalizeReference(n)];
        // A bare tag (`latest`) as ref.name names no repository.
        if (!ann[AnnotationContainerdImageName] && !n.includes('/') && !n.includes(':')) imageNames = [];
      } catch {
        imageNames = [];
      }
    }
    const same = out.find((o) => o.target.digest === r.target.digest);
    if (same) same.names.push(...imageNames.filter((x) => !same.names.includes(x)));
    else out.push({ names: imageNames, target: r.target, manifest: r.manifest, config: r.config });
  }
  return out;
}

interface V1Json {
  id?: string;
  parent?: string;
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  config?: ImageConfig['config'];
  container_config?: ImageConfig['config'];
}

/** The diffID of a stored layer: its digest if uncompressed, else the digest of its decompressed bytes. */
async function diffIdOf(store: BlobStore, d: Descriptor): Promise<Digest> {
  if (d.mediaType === MediaTypeDockerLayer) return d.digest;
  const feed = new LayerFeed();
  const hasher = createDigester();
  const hashed = (async () => {
    for await (const c of feed.output as AsyncIterable<Buffer>) hasher.update(c);
  })();
  for await (const c of await store.read(d.digest) as AsyncIterable<Buffer>) await feed.write(c);
  feed.end();
  await hashed;
  return hasher.digest();
}

async function loadLegacyV1(l: Loaded): Promise<LoadedImage[]> {
  const repos = JSON.parse((await l.read('repositories')).toString('utf8')) as Record<string, Record<string, string>>;
  const byId = new Map<string, LoadedImage>();
  for (const [repo, tags] of Object.entries(repos)) {
    for (const [tag, id] of Object.entries(tags)) {
      const name = normalizeReference(`${repo}:${tag}`);
      const existing = byId.get(id);
      if (existing) {
        existing.names.push(name);
        continue;
      }
      const chain: { id: string; json: V1Json }[] = [];
      for (let cur: string | undefined = id; cur;) {
        if (chain.length > 1000) throw new InvalidArgumentError('invalid archive: layer parent chain too long');
        const json = JSON.parse((await l.read(`${cur}/json`)).toString('utf8')) as V1Json;
        chain.unshift({ id: cur, json });
        cur = json.parent;
      }
      const layers: Descriptor[] = [];
      const diffIds: Digest[] = [];
      for (const c of chain) {
        const p = `${c.id}/layer.tar`;
        const desc = await l.blob(p, layerMediaTypeFor(await l.head(p)));
        layers.push(desc);
        diffIds.push(await diffIdOf(l.store, desc));
      }
      const top = chain.at(-1)!.json;
      const config: ImageConfig = {
        ...(top.created ? { created: top.created } : {}),
        ...(top.author ? { author: top.author } : {}),
        architecture: top.architecture ?? 'amd64',
        os: top.os ?? 'linux',
        ...(top.config ? { config: top.config } : {}),
        ...(top.container_config ? { container_config: top.container_config } : {}),
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: chain.map((c) => ({ ...(c.json.created ? { created: c.json.created } : {}), created_by: (c.json.container_config?.Cmd ?? []).join(' ') })),
      };
      const img = await storeBuiltImage(l, Buffer.from(JSON.stringify(config)), layers, [name]);
      byId.set(id, img);
    }
  }
  return [...byId.values()];
}

/** Loads images from a `docker save` / OCI archive tar (see the file comment for the formats). */
export async function loadImages(input: Readable | AsyncIterable<Buffer>, opts: LoadOptions): Promise<LoadedImage[]> {
  const l = new Loaded(blobStoreOf(opts.contentStore));
  try {
    await readArchive(input as AsyncIterable<Buffer>, l, opts.onProgress);
    let images: LoadedImage[];
    if (l.has('manifest.json')) images = await loadDockerArchive(l);
    else if (l.has('index.json')) images = await loadOciLayout(l);
    else if (l.has('repositories')) images = await loadLegacyV1(l);
    else throw new InvalidArgumentError('invalid archive: no manifest.json, index.json or repositories (not a docker save or OCI archive)');
    if (images.length === 0) throw new NotFoundError('invalid archive: it holds no image');
    await l.cleanup(false);
    return images;
  } catch (err) {
    await l.cleanup(true);
    throw err;
  }
}

/** Imports the images of an OCI image layout directory (`skopeo copy … oci:dir`, `umoci`). */
export async function importOciLayout(dir: string, opts: LoadOptions): Promise<LoadedImage[]> {
  const l = new Loaded(blobStoreOf(opts.contentStore));
  try {
    for (const f of ['oci-layout', 'index.json']) {
      try {
        l.files.set(f, { kind: 'mem', data: await readFile(path.join(dir, f)) });
      } catch (err) {
        throw new InvalidArgumentError(`not an OCI image layout: ${path.join(dir, f)}: ${(err as Error).message}`);
      }
    }
    for (const alg of ['sha256', 'sha512']) {
      const names = await readdir(path.join(dir, 'blobs', alg)).catch(() => [] as string[]);
      for (const hex of names) {
        const d = `${alg}:${hex}`;
        if (isDigest(d)) l.files.set(`blobs/${alg}/${hex}`, { kind: 'file', file: path.join(dir, 'blobs', alg, hex), digest: d as Digest });
      }
    }
    const images = await loadOciLayout(l);
    await l.cleanup(false);
    return images;
  } catch (err) {
    await l.cleanup(true);
    throw err;
  }
}
