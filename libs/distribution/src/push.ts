/**
 * Pushing an image from a content store: blobs first (in parallel, bounded), manifests last (children of an
 * index by digest, then the root under the tag). Per blob: HEAD (the registry has it → skip), a
 * cross-repository mount when the store's `distribution.source` label names another repository on the same
 * registry, else an upload — one streamed PUT for blobs up to `chunkSize`, PATCH chunks (resumed from the
 * registry's `Range` after a failure) for larger ones.
 */
import { type Readable, Transform } from 'node:stream';
import { type BerthError, FailedPreconditionError, InvalidArgumentError, codeOf, errorFromCode, isNotFound } from '@berth/errdefs';
import {
  type Descriptor, type Digest, type Platform, type Reference, defaultPlatform, familiarName,
  isNonDistributableMediaType, normalizePlatform, parseManifest, parsePlatform, selectPlatformEntry,
} from '@berth/oci';
import type { AuthConfig } from './credentials.ts';
import { isRetryable } from './errors.ts';
import { Limiter, sleep } from './limiter.ts';
import { ByteProgress, type ProgressHandler, shortId } from './progress.ts';
import type { RegistryRepository, UploadLocation } from './repository.ts';
import { withEndpoints, type SessionDeps } from './resolve.ts';
import { type BlobStore, labelDistributionSource } from './store.ts';
import { toBerthError } from './pull.ts';

export interface PushOptions {
  /** The image's root in the store (its record's target): a manifest or an index. */
  target: Descriptor;
  auth?: AuthConfig;
  onProgress?: ProgressHandler;
  /** For an index whose platform manifests are not all in the store: push only this platform's (default: host). */
  platform?: Platform | string;
  signal?: AbortSignal;
}

export interface PushResult {
  /** `127.0.0.1:5000/x:latest` (normalized). */
  name: string;
  /** The tag pushed ('' for a push by digest). */
  tag: string;
  /** Digest and size of the manifest (or index) the tag now points to. */
  digest: Digest;
  size: number;
  mediaType: string;
}

export interface PushDeps extends SessionDeps {
  maxConcurrentUploads: number;
  /** Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size. */
  chunkSize: number;
  maxAttempts: number;
  retryDelayMs: number;
}

interface ManifestToPush {
  desc: Descriptor;
  bytes: Buffer;
  blobs: Descriptor[];
}

function contextError(err: unknown, context: string): BerthError {
  const e = toBerthError(err);
  return errorFromCode(codeOf(e), `${context}: ${e instanceof Error ? e.message : String(e)}`, e);
}

async function readManifest(store: BlobStore, desc: Descriptor): Promise<Buffer | undefined> {
  try {
    return await store.readAll(desc.digest);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** What to push for a target: its manifests (children first) and their blobs. */
async function plan(
  store: BlobStore, target: Descriptor, platform: Platform, name: string,
): Promise<{ root: ManifestToPush; children: ManifestToPush[] }> {
  const bytes = await readManifest(store, target);
  if (!bytes) throw new FailedPreconditionError(`push ${name}: manifest ${target.digest} is not in the content store`);
  const parsed = parseManifest(bytes, target.mediaType);
  if (parsed.kind === 'manifest') {
    return { root: { desc: target, bytes, blobs: [parsed.manifest.config, ...parsed.manifest.layers] }, children: [] };
  }
  if (parsed.kind !== 'index') throw new InvalidArgumentError(`push ${name}: cannot push a ${parsed.mediaType}`);
  const children: ManifestToPush[] = [];
  let complete = true;
  for (const d of parsed.index.manifests) {
    const b = await readManifest(store, d);
    if (!b) {
      complete = false;
      break;
    }
    const p = parseManifest(b, d.mediaType);
    if (p.kind !== 'manifest') {
      complete = false;
      break;
    }
    const blobs = [p.manifest.config, ...p.manifest.layers];
    for (const bl of blobs) {
      if (!isNonDistributableMediaType(bl.mediaType) && !(await store.stat(bl.digest))) complete = false;
    }
    children.push({ desc: d, bytes: b, blobs });
  }
  if (complete) return { root: { desc: target, bytes, blobs: [] }, children };
  // Only part of the index is here (a single-platform pull of a multi-platform image): push that platform's
  // manifest under the tag, as dockerd does.
  const entry = selectPlatformEntry(parsed.index.manifests, platform);
  if (!entry) throw new FailedPreconditionError(`push ${name}: no manifest for this platform in the content store`);
  return plan(store, { ...entry, platform: undefined } as Descriptor, platform, name);
}

export async function pushImage(deps: PushDeps, store: BlobStore, ref: Reference, opts: PushOptions): Promise<PushResult> {
  const name = familiarName(ref);
  const emit = opts.onProgress;
  const platform = opts.platform === undefined ? defaultPlatform() : typeof opts.platform === 'string' ? parsePlatform(opts.platform) : normalizePlatform(opts.platform);
  const { root, children } = await plan(store, opts.target, platform, name);
  const tag = ref.digest ? '' : ref.tag ?? 'latest';
  const rootDesc: Descriptor = { mediaType: root.desc.mediaType, digest: root.desc.digest, size: root.desc.size };
  if (ref.digest && ref.digest !== rootDesc.digest) {
    throw new InvalidArgumentError(`push ${name}@${ref.digest}: the image's manifest is ${rootDesc.digest}`);
  }

  return withEndpoints(deps, ref, 'push', opts.auth, async (repo) => {
    await repo.ping(opts.signal);
    const seen = new Set<Digest>();
    const blobs: { desc: Descriptor; layer: boolean }[] = [];
    for (const m of [...children, root]) {
      m.blobs.forEach((b, i) => {
        if (seen.has(b.digest) || (isNonDistributableMediaType(b.mediaType) && b.urls?.length)) return;
        seen.add(b.digest);
        blobs.push({ desc: b, layer: i > 0 });
      });
    }
    for (const b of blobs) if (b.layer) emit?.({ id: shortId(b.desc.digest), status: 'Preparing', digest: b.desc.digest });
    const limiter = new Limiter(deps.maxConcurrentUploads);
    const ctl = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, ctl.signal]) : ctl.signal;
    const results = await Promise.allSettled(blobs.map(async (b) => {
      if (limiter.saturated && b.layer) emit?.({ id: shortId(b.desc.digest), status: 'Waiting', digest: b.desc.digest });
      try {
        await limiter.run(() => pushBlob(deps, store, repo, ref, b.desc, b.layer ? emit : undefined, signal));
      } catch (err) {
        const e = contextError(err, `push ${name}: blob ${b.desc.digest}`);
        ctl.abort(e);
        throw e;
      }
    }));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw ctl.signal.aborted ? ctl.signal.reason : failed.reason;
    try {
      for (const c of children) await repo.putManifest(c.desc.digest, c.desc.mediaType, c.bytes, opts.signal);
      await repo.putManifest(tag || rootDesc.digest, rootDesc.mediaType, root.bytes, opts.signal);
    } catch (err) {
      throw contextError(err, `push ${name}${tag ? `:${tag}` : ''}: manifest ${rootDesc.digest}`);
    }
    return { name: `${ref.domain}/${ref.path}${tag ? `:${tag}` : `@${rootDesc.digest}`}`, tag, digest: rootDesc.digest, size: rootDesc.size, mediaType: rootDesc.mediaType };
  });
}

async function pushBlob(
  deps: PushDeps, store: BlobStore, repo: RegistryRepository, ref: Reference, desc: Descriptor,
  emit: ProgressHandler | undefined, signal: AbortSignal,
): Promise<void> {
  const id = shortId(desc.digest);
  const sourceLabel = labelDistributionSource(ref.domain);
  const remember = async () => {
    const labels = await store.labels(desc.digest).catch(() => ({} as Record<string, string>));
    const repos = new Set((labels[sourceLabel] ?? '').split(',').filter(Boolean));
    if (!repos.has(ref.path)) {
      repos.add(ref.path);
      await store.label(desc.digest, { [sourceLabel]: [...repos].join(',') }).catch(() => {});
    }
  };
  if (!(await store.stat(desc.digest))) throw new FailedPreconditionError(`not in the content store`);
  if (await repo.hasBlob(desc.digest, signal)) {
    emit?.({ id, status: 'Layer already exists', digest: desc.digest });
    await remember();
    return;
  }
  let loc: UploadLocation | undefined;
  const labels = await store.labels(desc.digest).catch(() => ({} as Record<string, string>));
  const from = (labels[sourceLabel] ?? '').split(',').filter((p) => p && p !== ref.path)[0];
  if (from) {
    const r = await repo.mountBlob(desc.digest, from, signal).catch(() => undefined);
    if (r === 'mounted') {
      emit?.({ id, status: `Mounted from ${from}`, digest: desc.digest });
      await remember();
      return;
    }
    loc = r;
  }
  loc ??= await repo.startUpload(signal);
  const progress = new ByteProgress(emit, 'Pushing', desc.digest, desc.size);
  if (desc.size <= deps.chunkSize) {
    await withRetries(deps, signal, async () => {
      const body = await store.read(desc.digest);
      const counted = counting(body, (n) => progress.update(n));
      try {
        await repo.finishUpload(loc!, desc.digest, counted, desc.size, signal);
      } catch (err) {
        // A failed monolithic PUT invalidates the session: start a new one for the retry.
        loc = await repo.startUpload(signal).catch(() => loc);
        throw err;
      }
    });
  } else {
    let offset = 0;
    while (offset < desc.size) {
      const length = Math.min(deps.chunkSize, desc.size - offset);
      await withRetries(deps, signal, async () => {
        try {
          const body = await store.read(desc.digest, { offset, length });
          const chunk = counting(body, (n) => progress.update(offset + n));
          loc = await repo.uploadChunk(loc!, chunk, length, signal);
        } catch (err) {
          // Where does the upload stand? Continue from the registry's offset.
          const st = await repo.uploadStatus(loc!, signal).catch(() => undefined);
          if (st) {
            loc = st;
            offset = st.offset;
          }
          throw err;
        }
      });
      offset = loc.offset;
    }
    await withRetries(deps, signal, () => repo.finishUpload(loc!, desc.digest, undefined, 0, signal));
  }
  progress.update(desc.size, true);
  emit?.({ id, status: 'Pushed', digest: desc.digest });
  await remember();
}

async function withRetries(deps: PushDeps, signal: AbortSignal, fn: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= deps.maxAttempts || !isRetryable(err) || signal.aborted) throw err;
      await sleep(Math.min(deps.retryDelayMs * 2 ** (attempt - 1), 10_000), signal);
    }
  }
}

/** Passes bytes through, reporting the running count. */
function counting(src: Readable, onBytes: (n: number) => void): Readable {
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
  src.on('error', (err) => t.destroy(err));
  return src.pipe(t);
}
