/**
 * Images as the engine sees them, over runtimed's image records (containerd's model: a *record* is a name →
 * target descriptor; the target is an index or a manifest in the content store). Docker's view groups records
 * by image id (the config digest): an image has tags (records named after registry references) and may be
 * dangling (only a `dangling@…` record keeps it). Image configs and manifests are immutable, so they are cached
 * by target digest.
 */
import { createHash } from 'node:crypto';
import type { Descriptor as RtDescriptor, Image as RtImage, RuntimedClient } from '@berth/containerd-api';
import { InvalidArgumentError, NotFoundError, isNotFound } from '@berth/errdefs';
import {
  familiarString, isIndexMediaType, isManifestMediaType, parseNormalizedReference, selectPlatformEntry, withDefaultTag,
  formatReference, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform, type Reference,
} from '@berth/oci';

/** Names of records that keep an untagged image alive. */
export const DANGLING_PREFIX = 'dangling@';

export interface ImageDetails {
  /** `sha256:<config digest hex>` */
  id: string;
  /** The record target (index or manifest). */
  target: RtDescriptor;
  manifestDigest: string;
  manifest: ImageManifest;
  config: ImageConfig;
  configDescriptor: Descriptor;
  /** Layer diffIDs (uncompressed). */
  diffIds: string[];
  /** chainID of the whole stack (the parent snapshot of containers), '' for an image without layers. */
  chainId: string;
  /** Compressed size of the layers + config + manifest. */
  contentSize: number;
}

export interface ImageEntry extends ImageDetails {
  /** Runtimed records pointing at this image (full names, e.g. `docker.io/library/busybox:latest`). */
  names: string[];
  createdAt: number;
  updatedAt: number;
}

/** `sha256:a` + ` ` + `sha256:b` chain, as the OCI image spec defines ChainID. */
export function chainIdOf(diffIds: string[]): string {
  let chain = '';
  for (const d of diffIds) chain = chain === '' ? d : `sha256:${createHash('sha256').update(`${chain} ${d}`).digest('hex')}`;
  return chain;
}

/** Parses user input as a reference, with errdefs errors and Docker's message. */
export function parseRef(s: string): Reference {
  try {
    return parseNormalizedReference(s);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** `busybox` → `docker.io/library/busybox:latest` (the record name). */
export function recordName(s: string): string {
  return formatReference(withDefaultTag(parseRef(s)));
}

/** `docker.io/library/busybox:latest` → `busybox:latest`. */
export function familiar(name: string): string {
  try {
    return familiarString(parseNormalizedReference(name));
  } catch {
    return name;
  }
}

export function isDanglingName(name: string): boolean {
  return name.startsWith(DANGLING_PREFIX);
}

const HOST_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

export class ImageStore {
  private readonly rt: RuntimedClient;
  private readonly details = new Map<string, Promise<ImageDetails>>();
  private readonly sizes = new Map<string, number>();

  constructor(rt: RuntimedClient) {
    this.rt = rt;
  }

  /** The details of a target (cached; the content is immutable). */
  detailsOf(target: RtDescriptor): Promise<ImageDetails> {
    let p = this.details.get(target.digest);
    if (!p) {
      p = this.load(target);
      this.details.set(target.digest, p);
      p.catch(() => this.details.delete(target.digest));
    }
    return p;
  }

  private async readJson<T>(digest: string): Promise<T> {
    const buf = await this.rt.content.readAll(digest);
    return JSON.parse(buf.toString('utf8')) as T;
  }

  private async load(target: RtDescriptor): Promise<ImageDetails> {
    let manifestDesc: { digest: string; mediaType: string; size: number } = target;
    let contentSize = 0;
    if (isIndexMediaType(target.mediaType)) {
      const index = await this.readJson<ImageIndex>(target.digest);
      const entry = selectPlatformEntry(index.manifests.filter((m) => isManifestMediaType(m.mediaType)), HOST_PLATFORM);
      if (!entry) throw new NotFoundError(`image ${target.digest}: no manifest for linux/amd64`);
      manifestDesc = entry;
    } else if (!isManifestMediaType(target.mediaType)) {
      throw new InvalidArgumentError(`image ${target.digest}: unsupported media type ${target.mediaType}`);
    }
    const manifest = await this.readJson<ImageManifest>(manifestDesc.digest);
    const config = await this.readJson<ImageConfig>(manifest.config.digest);
    contentSize += manifest.config.size + Number(manifestDesc.size);
    for (const l of manifest.layers) contentSize += Number(l.size);
    const diffIds = config.rootfs?.diff_ids ?? [];
    return {
      id: manifest.config.digest,
      target,
      manifestDigest: manifestDesc.digest,
      manifest,
      config,
      configDescriptor: manifest.config,
      diffIds,
      chainId: chainIdOf(diffIds),
      contentSize,
    };
  }

  /** Every image, grouped by id, newest first. */
  async list(): Promise<ImageEntry[]> {
    const records = await this.rt.images.list();
    const byId = new Map<string, ImageEntry>();
    await Promise.all(records.map(async (r) => {
      let d: ImageDetails;
      try {
        d = await this.detailsOf(r.target);
      } catch {
        return; // A record whose content is gone or foreign (another platform, an artifact): not an image to Docker.
      }
      const e = byId.get(d.id);
      const created = tsMs(r.createdAt);
      const updated = tsMs(r.updatedAt);
      if (e) {
        e.names.push(r.name);
        e.updatedAt = Math.max(e.updatedAt, updated);
      } else {
        byId.set(d.id, { ...d, names: [r.name], createdAt: created, updatedAt: updated });
      }
    }));
    for (const e of byId.values()) e.names.sort();
    return [...byId.values()].sort((a, b) => createdSeconds(b.config) - createdSeconds(a.config));
  }

  /** A record by full name, or undefined. */
  async record(name: string): Promise<RtImage | undefined> {
    try {
      return await this.rt.images.get(name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Resolves what a user typed — `busybox`, `busybox:1.36`, `x@sha256:…`, an image id or a unique id prefix —
   * to an image (`name`: the record it was found by). NotFoundError with Docker's text (`No such image:
   * busybox:latest`) otherwise. By name this costs one record lookup (the details are cached).
   */
  async resolve(input: string): Promise<ImageDetails & { name?: string }> {
    const s = input.trim();
    if (s === '') throw new NotFoundError('No such image: ');
    const idLike = /^(sha256:)?[a-f0-9]{1,64}$/.test(s);
    if (!s.startsWith('sha256:')) {
      let name: string | undefined;
      try {
        name = formatReference(withDefaultTag(parseNormalizedReference(s)));
      } catch (err) {
        if (!idLike) throw new InvalidArgumentError((err as Error).message);
      }
      if (name) {
        const rec = await this.record(name);
        if (rec) return { ...(await this.detailsOf(rec.target)), name };
      }
    }
    if (idLike) {
      const hex = s.replace(/^sha256:/, '');
      const matches = (await this.list()).filter((e) => e.id.slice('sha256:'.length).startsWith(hex));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1 && hex.length < 64) throw new InvalidArgumentError(`multiple IDs found with provided prefix: ${hex}`);
    }
    throw new NotFoundError(`No such image: ${notFoundName(s)}`);
  }

  /** The image with its names (`list` grouped), by id. */
  async entry(id: string): Promise<ImageEntry> {
    const e = (await this.list()).find((x) => x.id === id);
    if (!e) throw new NotFoundError(`No such image: ${id}`);
    return e;
  }

  /** Uncompressed size of an image's layers (sum of its snapshots' usage; compressed sizes when not unpacked). */
  async size(d: ImageDetails, snapshotter: string): Promise<number> {
    let total = 0;
    for (let i = 0; i < d.diffIds.length; i++) {
      const chain = chainIdOf(d.diffIds.slice(0, i + 1));
      let s = this.sizes.get(chain);
      if (s === undefined) {
        try {
          s = (await this.rt.snapshots.usage(chain, snapshotter)).size;
        } catch {
          s = Number(d.manifest.layers[i]?.size ?? 0);
        }
        this.sizes.set(chain, s);
      }
      total += s;
    }
    return total;
  }

  /** Forgets cached sizes (after removals, sizes of shared layers stay valid; cheap to recompute). */
  forget(digest: string): void {
    this.details.delete(digest);
  }
}

/** Docker's not-found text: references get their default tag, ids stay as typed. */
export function notFoundName(s: string): string {
  if (/^(sha256:)?[a-f0-9]{12,64}$/.test(s)) return s;
  try {
    const ref = withDefaultTag(parseNormalizedReference(s));
    return familiarString(ref);
  } catch {
    return s;
  }
}

export function createdSeconds(c: ImageConfig): number {
  const t = c.created ? Date.parse(c.created) : NaN;
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}

function tsMs(t: { seconds: number; nanos: number } | null): number {
  return t ? t.seconds * 1000 + Math.floor(t.nanos / 1e6) : 0;
}
