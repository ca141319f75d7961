/**
 * Pulling an image: resolve → config → layers → manifests, into a content store.
 *
 * Layers are fetched in parallel (bounded), each streamed straight into its ingest (no whole-layer buffers),
 * retried with backoff and resumed with `Range` after a dropped connection; the store verifies size and digest
 * on commit. With an unpacker, layers are applied in order: the layer whose turn it is when its download starts
 * is decompressed and handed to the unpacker while it downloads (one pass); layers that finished downloading
 * before their turn are read back from the store. Manifests (and the index) are stored last, so an image's root
 * blob exists only when everything under it does; a failed pull leaves no ingest behind, and only verified,
 * complete blobs (reused by the next attempt, collectable by GC).
 */
import type { Readable } from 'node:stream';
import { childGcLabels, LABEL_UNCOMPRESSED } from '@berth/layer-store';
import {
  type BerthError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError, codeOf, errorFromCode,
} from '@berth/errdefs';
import {
  type Descriptor, type Digest, type ImageConfig, type Platform, type Reference, OciError, defaultPlatform, digestOf,
  familiarString, formatPlatform, isNonDistributableMediaType, normalizePlatform, parsePlatform, platformMatches,
  validateImageConfig,
} from '@berth/oci';
import type { AuthConfig } from './credentials.ts';
import { isRetryable } from './errors.ts';
import { LayerFeed } from './layer-feed.ts';
import { Limiter, sleep } from './limiter.ts';
import { ByteProgress, type ProgressHandler, shortId } from './progress.ts';
import type { RegistryRepository } from './repository.ts';
import { resolveOn, withEndpoints, type ResolvedImage, type SessionDeps } from './resolve.ts';
import { type BlobIngest, type BlobStore, labelDistributionSource } from './store.ts';

/** One layer as the unpacker sees it. */
export interface UnpackLayer {
  /** Position in the manifest, bottom first. */
  index: number;
  /** The (usually compressed) blob. */
  descriptor: Descriptor;
  /** Digest of the uncompressed tar, from the image config: verify it while applying. */
  diffId: Digest;
  /** ChainID of layers 0..index: the name of the committed snapshot. */
  chainId: Digest;
  /** ChainID of layers 0..index-1 (the parent snapshot), absent for the first layer. */
  parentChainId?: Digest;
}

export interface LayerContent {
  /**
   * The decompressed layer tar (the blob's own bytes for an unpacker with `compressed`). It errors if the blob
   * fails verification and ends only after it passed.
   */
  stream: Readable;
  /** Settles when the compressed blob has been verified (rejects on mismatch or transfer failure). */
  verified: Promise<void>;
  /**
   * Settles when the layer below has been applied (at once for the lowest layer this pull applies); rejects
   * when that failed. A parallel unpacker must not commit the layer before.
   */
  below: Promise<void>;
  /**
   * The layer once more (as `stream` is), read from the store after its blob is committed: for an unpacker that
   * has to start over (e.g. a detached apply that found it needs the layers below).
   */
  reopen(): Readable;
}

/**
 * Applies layers as the pull fetches them (e.g. into snapshots). `apply` is called once per layer. It must
 * read `content.stream` to its end (or destroy it) and commit its result only after `content.verified`
 * resolved, discarding it otherwise. Without `parallel`, layers are applied in order, each after the previous
 * one resolved; with it, every layer is applied as it downloads, and `apply` must wait for `content.below`
 * before it commits.
 */
export interface Unpacker {
  /** Whether the layer's result already exists (e.g. a committed snapshot named `chainId`): then not applied. */
  exists?(layer: UnpackLayer): Promise<boolean>;
  apply(layer: UnpackLayer, content: LayerContent): Promise<void>;
  /** Layers may be applied at the same time, a layer before the one below it. */
  parallel?: boolean;
  /**
   * `apply` gets the blob's bytes as stored (gzip, zstd or plain tar) and decompresses them itself, e.g. on the
   * worker thread that applies them, so the pull's thread neither decompresses nor hands the larger output on.
   */
  compressed?: boolean;
}

export interface PullOptions {
  /** Platform to select from an index (default: this host's). A manifest that does not match is refused only when given. */
  platform?: Platform | string;
  /** Credentials for this pull (e.g. from `X-Registry-Auth`), over the client's credential store. */
  auth?: AuthConfig;
  onProgress?: ProgressHandler;
  unpack?: Unpacker;
  signal?: AbortSignal;
}

export interface PullResult {
  /** The normalized reference pulled: `docker.io/library/busybox:latest`. */
  name: string;
  reference: Reference;
  /** What the reference resolved to (index or manifest): the image record's target, as containerd keeps it. */
  target: Descriptor;
  /** The platform manifest (equals `target` for a single-platform image). */
  manifest: Descriptor;
  config: Descriptor;
  image: ImageConfig;
  layers: Descriptor[];
  diffIds: Digest[];
  chainIds: Digest[];
  /** Layers this pull downloaded (the rest were present). */
  downloaded: Digest[];
}

export interface PullDeps extends SessionDeps {
  maxConcurrentDownloads: number;
  /** Attempts per blob before giving up (first try included). */
  maxAttempts: number;
  retryDelayMs: number;
  /** In-flight blob downloads per store, so concurrent pulls of one image share work. */
  inflight: WeakMap<BlobStore, Map<Digest, Promise<void>>>;
}

/** Errors from @berth/oci carry errdefs-compatible codes; give them errdefs classes. */
export function toBerthError(err: unknown): unknown {
  if (err instanceof OciError) return errorFromCode(err.code, err.message, err);
  return err;
}

function contextError(err: unknown, context: string): BerthError {
  const e = toBerthError(err);
  return errorFromCode(codeOf(e), `${context}: ${e instanceof Error ? e.message : String(e)}`, e);
}

function chainIdsOf(diffIds: Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : digestOf(`${out.at(-1)} ${d}`));
  return out;
}

function platformOf(p: Platform | string | undefined): { platform: Platform; explicit: boolean } {
  if (p === undefined) return { platform: defaultPlatform(), explicit: false };
  return { platform: typeof p === 'string' ? parsePlatform(p) : normalizePlatform(p), explicit: true };
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
  settled: boolean;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const d = {
    promise: new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    }),
    settled: false,
  } as Deferred;
  d.resolve = () => {
    d.settled = true;
    resolve();
  };
  d.reject = (err) => {
    d.settled = true;
    reject(err);
  };
  d.promise.catch(() => {});
  return d;
}

/** Fetches a small blob (config) whole, verified, into the store; or reads it if present. */
async function fetchSmallBlob(
  repo: RegistryRepository, store: BlobStore, desc: Descriptor, labels: Record<string, string>, signal?: AbortSignal,
): Promise<Buffer> {
  if (await store.stat(desc.digest)) {
    await store.label(desc.digest, labels);
    return store.readAll(desc.digest);
  }
  const { body } = await repo.openBlob(desc.digest, 0, signal);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > Math.max(desc.size, 0) || n > 64 << 20) {
      body.destroy();
      throw new FailedPreconditionError(`blob ${desc.digest}: more than the ${desc.size} bytes the manifest declares`);
    }
    chunks.push(c);
  }
  const data = Buffer.concat(chunks);
  const actual = digestOf(data);
  if (data.length !== desc.size || actual !== desc.digest) {
    throw new FailedPreconditionError(`blob ${desc.digest}: digest mismatch: got ${actual} (${data.length} bytes), expected ${desc.digest} (${desc.size} bytes)`);
  }
  await store.put(desc, data, labels);
  return data;
}

export interface BlobFetch {
  repo: RegistryRepository;
  store: BlobStore;
  desc: Descriptor;
  labels: Record<string, string>;
  /** Asked once the ingest is open and starts at 0: a feed to stream the bytes into as well. */
  feed?: () => LayerFeed | undefined;
  onBytes?: (written: number) => void;
  onRetry?: (attempt: number, delayMs: number, err: unknown) => void;
  /** All bytes are in and verified; the commit (fsync, rename) follows. */
  onVerified?: () => void;
  maxAttempts: number;
  retryDelayMs: number;
  signal?: AbortSignal;
}

const WRITE_BATCH = 512 * 1024;

/** The body's chunks; a connection that drops mid-body becomes `unexpected end of body after N of M bytes`. */
async function* readBody(body: Readable, written: () => number, size: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  try {
    for await (const c of body as AsyncIterable<Buffer>) yield c;
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new UnavailableError(`unexpected end of body after ${written()} of ${size} bytes (${(err as Error).message})`, { cause: err });
  }
}

/**
 * Downloads one blob into the store: resumable (Range from what the ingest holds), retried with exponential
 * backoff on connection failures, 5xx, 429 and truncated bodies; verified by the store on commit. On failure
 * the ingest is aborted and the feed (if any) failed.
 */
export async function fetchBlob(f: BlobFetch): Promise<void> {
  const ingest: BlobIngest = await f.store.ingest(`remote-${f.desc.digest}`, f.desc, f.labels);
  if (ingest.exists) {
    await ingest.commit();
    return;
  }
  const feed = ingest.offset === 0 ? f.feed?.() : undefined;
  let written = ingest.offset;
  // Small chunks are gathered into one reused buffer (an ingest's write is done with its argument when it
  // resolves): fewer writes, and no new allocation per batch (a pull's buffers are what drives its GCs).
  const batch = Buffer.allocUnsafeSlow(WRITE_BATCH);
  let batched = 0;
  const flush = async () => {
    if (batched === 0) return;
    const n = batched;
    batched = 0;
    await ingest.write(batch.subarray(0, n));
  };
  const store = async (c: Buffer) => {
    if (batched + c.length > WRITE_BATCH) await flush();
    if (c.length >= WRITE_BATCH) await ingest.write(c);
    else {
      c.copy(batch, batched);
      batched += c.length;
    }
  };
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const { body, offset } = await f.repo.openBlob(f.desc.digest, written, f.signal);
        let skip = written - offset;
        try {
          for await (const chunk of readBody(body, () => written, f.desc.size, f.signal)) {
            let c = chunk;
            if (skip > 0) {
              if (c.length <= skip) {
                skip -= c.length;
                continue;
              }
              c = c.subarray(skip);
              skip = 0;
            }
            if (written + c.length > f.desc.size) {
              throw new FailedPreconditionError(`blob ${f.desc.digest}: registry sent more than the ${f.desc.size} bytes the manifest declares`);
            }
            written += c.length;
            if (feed) await Promise.all([store(c), feed.write(c)]);
            else await store(c);
            f.onBytes?.(written);
          }
        } finally {
          body.destroy();
        }
        await flush();
        if (written < f.desc.size) {
          throw new UnavailableError(`unexpected end of body after ${written} of ${f.desc.size} bytes`);
        }
        break;
      } catch (err) {
        // Keep what arrived: the next attempt resumes after it.
        await flush();
        if (attempt >= f.maxAttempts || !isRetryable(err) || f.signal?.aborted) throw err;
        const delay = Math.min(f.retryDelayMs * 2 ** (attempt - 1), 10_000);
        f.onRetry?.(attempt, delay, err);
        await sleep(delay, f.signal);
      }
    }
    // Verified: the feed's consumer may finish while the commit makes the blob durable (fsync, rename).
    ingest.verify();
    feed?.end();
    f.onVerified?.();
    await ingest.commit();
  } catch (err) {
    await ingest.abort();
    feed?.fail(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

/** Runs `fn` again after retryable failures, with exponential backoff. */
async function retrying<T>(deps: PullDeps, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= deps.maxAttempts || !isRetryable(err) || signal?.aborted) throw err;
      await sleep(Math.min(deps.retryDelayMs * 2 ** (attempt - 1), 10_000), signal);
    }
  }
}

/** Pulls `ref` into `store`. See the file comment for the pipeline. */
export async function pullImage(deps: PullDeps, store: BlobStore, ref: Reference, opts: PullOptions = {}): Promise<PullResult> {
  const emit = opts.onProgress;
  const { platform, explicit } = platformOf(opts.platform);
  const name = familiarString(ref);
  const resolved: ResolvedImage = await withEndpoints(deps, ref, 'pull', opts.auth, (repo) => resolveOn(repo, ref, platform, opts.signal));
  const repo = resolved.repository;
  emit?.({ id: ref.digest ?? ref.tag ?? 'latest', status: `Pulling from ${ref.path}` });

  const source = { [labelDistributionSource(ref.domain)]: ref.path };
  const layers = resolved.parsed.layers;
  let image: ImageConfig;
  try {
    const configBytes = await retrying(deps, opts.signal, () => fetchSmallBlob(repo, store, resolved.parsed.config, source, opts.signal));
    image = validateImageConfig(JSON.parse(configBytes.toString('utf8')));
  } catch (err) {
    throw contextError(err, `pull ${name}: image configuration ${resolved.parsed.config.digest}`);
  }
  if (explicit && !resolved.index) {
    const have: Platform = { os: image.os, architecture: image.architecture, ...(image.variant ? { variant: image.variant } : {}) };
    if (!platformMatches(platform, have)) {
      throw new NotFoundError(`image with reference ${name} was found but does not match the specified platform: wanted ${formatPlatform(platform)}, actual: ${formatPlatform(have)}`);
    }
  }
  const diffIds = image.rootfs.diff_ids;
  if (diffIds.length !== layers.length) {
    throw new InvalidArgumentError(`pull ${name}: the manifest has ${layers.length} layers but the image config ${diffIds.length} diff_ids`);
  }
  const chainIds = chainIdsOf(diffIds);
  const units: UnpackLayer[] = layers.map((descriptor, index) => ({
    index, descriptor, diffId: diffIds[index]!, chainId: chainIds[index]!, ...(index > 0 ? { parentChainId: chainIds[index - 1]! } : {}),
  }));

  const downloaded = await fetchLayers(deps, store, repo, units, source, name, opts);

  // Roots last: the manifest (and index) only once every blob under it is in the store.
  try {
    await store.put(resolved.manifest, resolved.manifestBytes, { ...source, ...childGcLabels(resolved.parsed) });
    if (resolved.index) await store.put(resolved.target, resolved.targetBytes, { ...source, ...childGcLabels(resolved.index) });
  } catch (err) {
    throw contextError(err, `pull ${name}: store manifest`);
  }
  emit?.({ id: '', status: `Digest: ${resolved.target.digest}` });
  return {
    name: formatReferenceFull(ref), reference: ref, target: resolved.target, manifest: resolved.manifest,
    config: resolved.parsed.config, image, layers, diffIds, chainIds, downloaded,
  };
}

function formatReferenceFull(ref: Reference): string {
  return `${ref.domain}/${ref.path}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

async function fetchLayers(
  deps: PullDeps, store: BlobStore, repo: RegistryRepository, units: UnpackLayer[], source: Record<string, string>,
  name: string, opts: PullOptions,
): Promise<Digest[]> {
  const emit = opts.onProgress;
  const unpack = opts.unpack;
  const n = units.length;
  // Internal cancellation: the first failure stops the other downloads.
  const ctl = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, ctl.signal]) : ctl.signal;

  const present = await Promise.all(units.map(async (u) => (await store.stat(u.descriptor.digest)) !== undefined));
  // Snapshots exist bottom-up: the highest existing one means all below exist.
  let firstToUnpack = n;
  if (unpack) {
    firstToUnpack = 0;
    for (let i = n - 1; i >= 0; i--) {
      if (await (unpack.exists?.(units[i]!) ?? Promise.resolve(false))) {
        firstToUnpack = i + 1;
        break;
      }
    }
  }
  const needUnpack = (i: number) => !!unpack && i >= firstToUnpack;
  const nonDistributable = (u: UnpackLayer) => isNonDistributableMediaType(u.descriptor.mediaType) && !!u.descriptor.urls?.length;

  for (const u of units) {
    const id = shortId(u.descriptor.digest);
    if (present[u.index] && !needUnpack(u.index)) emit?.({ id, status: 'Already exists', digest: u.descriptor.digest });
    else if (!present[u.index]) emit?.({ id, status: 'Pulling fs layer', digest: u.descriptor.digest });
  }

  const limiter = new Limiter(deps.maxConcurrentDownloads);
  const done = units.map(() => deferred());
  // A layer's apply (streamed while it downloads, or from the store); `applied[i]` settles with it.
  const applies: (Promise<void> | undefined)[] = units.map(() => undefined);
  const streamed: boolean[] = units.map(() => false);
  const applied = units.map((u) => {
    const d = deferred();
    if (!needUnpack(u.index)) d.resolve();
    return d;
  });
  // A failed pull settles every layer still waiting for the one below it.
  signal.addEventListener('abort', () => {
    for (const d of applied) if (!d.settled) d.reject(signal.reason);
  }, { once: true });
  const parallel = unpack?.parallel === true;
  // Layers applied from the store (present before the pull, or resumed downloads) one at a time.
  const fromStore = new Limiter(1);
  let waitingFor = -1;
  const downloaded: Digest[] = [];
  const inflight = deps.inflight.get(store) ?? new Map<Digest, Promise<void>>();
  deps.inflight.set(store, inflight);

  const layerContext = (u: UnpackLayer) => `pull ${name}: layer ${shortId(u.descriptor.digest)} (${u.descriptor.digest})`;

  const startApply = (u: UnpackLayer, feed: LayerFeed, isStreamed: boolean): Promise<void> => {
    streamed[u.index] = isStreamed;
    const content: LayerContent = {
      stream: feed.output,
      verified: feed.verified,
      below: u.index > 0 ? applied[u.index - 1]!.promise : Promise.resolve(),
      reopen: () => feedFromStore(store, u, done[u.index]!.promise, signal, !unpack!.compressed).output,
    };
    // If apply returns early, drain so the download is not held up; if it fails, stop feeding it.
    const p = unpack!.apply(u, content).then(() => void feed.output.resume(), (err: unknown) => {
      feed.fail(err instanceof Error ? err : new Error(String(err)));
      throw err;
    });
    p.then(() => applied[u.index]!.resolve(), (err: unknown) => {
      applied[u.index]!.reject(err);
      ctl.abort(contextError(err, `${layerContext(u)}: unpack`));
    });
    applies[u.index] = p;
    return p;
  };

  const applyFromStore = (u: UnpackLayer): Promise<void> => {
    const progress = new ByteProgress(emit, 'Extracting', u.descriptor.digest, u.descriptor.size);
    const turn = deferred();
    const fed = deferred();
    // The slot is held while the blob is read into the feed, not while the apply waits for the layer below.
    void fromStore.run(() => {
      turn.resolve();
      return fed.promise;
    });
    const ready = turn.promise.then(() => done[u.index]!.promise);
    const feed = feedFromStore(store, u, ready, signal, !unpack!.compressed, (n, last) => progress.update(n, last));
    feed.verified.then(() => fed.resolve(), () => fed.resolve());
    return startApply(u, feed, false);
  };

  const download = async (u: UnpackLayer): Promise<void> => {
    const d = u.descriptor;
    const id = shortId(d.digest);
    if (nonDistributable(u)) throw new FailedPreconditionError(`${layerContext(u)}: foreign layers (fetched from ${d.urls![0]}) are not supported`);
    const shared = inflight.get(d.digest);
    if (shared) {
      emit?.({ id, status: 'Waiting', digest: d.digest });
      try {
        await shared;
        emit?.({ id, status: 'Download complete', digest: d.digest });
        return;
      } catch {
        // The other pull failed; try ourselves.
      }
    }
    if (limiter.saturated) emit?.({ id, status: 'Waiting', digest: d.digest });
    const bytes = new ByteProgress(emit, 'Downloading', d.digest, d.size);
    let fetched!: Promise<void>;
    // The download slot is held while bytes arrive, not while the commit makes them durable: an fsync can wait
    // for unrelated writeback (the layers being extracted) and the next download need not wait with it.
    const own = limiter.run(() => new Promise<void>((release, reject) => {
      fetched = fetchBlob({
        repo, store, desc: d, labels: source, signal, maxAttempts: deps.maxAttempts, retryDelayMs: deps.retryDelayMs,
        feed: () => {
          // Stream into the unpacker: any layer to unpack when it applies in parallel, else the one it waits for.
          if (!unpack || applies[u.index] || !(parallel ? needUnpack(u.index) : waitingFor === u.index)) return undefined;
          // The download never waits for the extraction: what it cannot take yet, it reads from the stored blob.
          const feed = new LayerFeed({
            decompress: !unpack.compressed,
            resume: async (offset) => {
              await done[u.index]!.promise;
              return store.read(u.descriptor.digest, { offset });
            },
          });
          startApply(u, feed, true).catch(() => {});
          return feed;
        },
        onBytes: (w) => bytes.update(w),
        onRetry: (attempt, delay) => emit?.({ id, status: `Retrying in ${Math.ceil(delay / 1000)} second${delay > 1000 ? 's' : ''}`, digest: d.digest }),
        onVerified: release,
      });
      fetched.then(release, reject);
    })).then(async () => {
      await fetched;
      bytes.update(d.size, true);
      emit?.({ id, status: 'Verifying Checksum', digest: d.digest });
      emit?.({ id, status: 'Download complete', digest: d.digest });
      downloaded.push(d.digest);
    });
    inflight.set(d.digest, own);
    try {
      await own;
    } finally {
      if (inflight.get(d.digest) === own) inflight.delete(d.digest);
    }
  };

  const downloads = units.map(async (u) => {
    try {
      if (!present[u.index]) await download(u);
      done[u.index]!.resolve();
    } catch (err) {
      const e = contextError(err, layerContext(u));
      done[u.index]!.reject(e);
      ctl.abort(e);
      throw e;
    }
  });
  if (parallel) {
    // Layers that were not streamed start from the store as soon as their blobs are there.
    for (const u of units) {
      if (needUnpack(u.index)) done[u.index]!.promise.then(() => void (applies[u.index] ?? applyFromStore(u).catch(() => {})), () => {});
    }
  }

  const unpacking = (async () => {
    if (!unpack) return;
    for (let i = firstToUnpack; i < n; i++) {
      const u = units[i]!;
      const id = shortId(u.descriptor.digest);
      if (!done[i]!.settled) waitingFor = i;
      await done[i]!.promise;
      waitingFor = -1;
      try {
        if (streamed[i]) {
          emit?.({ id, status: 'Extracting', current: u.descriptor.size, total: u.descriptor.size, digest: u.descriptor.digest });
        }
        await (applies[i] ?? applyFromStore(u));
        await store.label(u.descriptor.digest, { [LABEL_UNCOMPRESSED]: u.diffId });
      } catch (err) {
        const e = contextError(err, `${layerContext(u)}: unpack`);
        ctl.abort(e);
        throw e;
      }
      emit?.({ id, status: 'Pull complete', digest: u.descriptor.digest });
    }
  })();

  const results = await Promise.allSettled([...downloads, unpacking]);
  // Applies may still run after the unpack loop stopped (a failure elsewhere): let them finish cleaning up
  // before the pull returns.
  await Promise.allSettled(applies.filter((p) => p !== undefined));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Report the first real failure, not the cancellations it caused.
    const reason = ctl.signal.aborted ? ctl.signal.reason : failed.reason;
    throw toBerthError(reason);
  }
  if (!unpack) for (const u of units) if (!present[u.index]) emit?.({ id: shortId(u.descriptor.digest), status: 'Pull complete', digest: u.descriptor.digest });
  return downloaded;
}

/**
 * A feed of a committed layer blob, read from the store once `ready` resolves (the download, when there is
 * one, has committed it); decompressed unless the unpacker takes it as stored. `onBytes(compressed bytes,
 * last)` follows the reading.
 */
function feedFromStore(
  store: BlobStore, u: UnpackLayer, ready: Promise<void>, signal: AbortSignal, decompress: boolean,
  onBytes?: (n: number, last: boolean) => void,
): LayerFeed {
  const feed = new LayerFeed({ decompress });
  void (async () => {
    try {
      await ready;
      const src = await store.read(u.descriptor.digest);
      try {
        for await (const chunk of src as AsyncIterable<Buffer>) {
          if (signal.aborted) throw signal.reason;
          if (feed.failed) break;
          await feed.write(chunk);
          onBytes?.(feed.written, false);
        }
      } finally {
        src.destroy();
      }
      onBytes?.(feed.written, true);
      feed.end();
    } catch (err) {
      feed.fail(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  return feed;
}
