/**
 * RegistryClient: the one object the daemons hold to talk to registries. It owns the HTTP agents, the auth
 * state (challenges, tokens), the mirror/insecure-registry configuration, and the in-flight work shared by
 * concurrent pulls; every method takes the content store it works against.
 */
import type { ContentStore } from '@berth/layer-store';
import {
  type Descriptor, type ImageIndex, type ImageManifest, type Platform, type Reference, defaultPlatform, formatPlatform,
  formatReference, normalizePlatform, parseDockerRef, parseNormalizedReference, parsePlatform,
} from '@berth/oci';
import { Authorizer } from './auth.ts';
import { blobStoreOf } from './content.ts';
import { type AuthConfig, type CredentialStore, staticCredentials } from './credentials.ts';
import { RegistryHosts } from './hosts.ts';
import { checkLogin, type LoginResult, searchRegistry, type SearchResult } from './login.ts';
import type { ProgressEvent, ProgressHandler } from './progress.ts';
import { pullImage, type PullDeps, type PullOptions, type PullResult } from './pull.ts';
import { pushImage, type PushDeps, type PushOptions, type PushResult } from './push.ts';
import { credentialsFor, resolveOn, withEndpoints } from './resolve.ts';
import type { BlobStore } from './store.ts';
import { Transport } from './transport.ts';

export interface RegistryClientOptions {
  /** Mirrors for docker.io names, tried in order before Docker Hub: `http://127.0.0.1:5000`. */
  mirrors?: string[];
  /** Registries reached over plain HTTP / without TLS verification (`host:port` or CIDR); loopback always is. */
  insecureRegistries?: string[];
  /** Where credentials come from when a call brings none (e.g. `dockerConfigCredentials()`), or a fixed map. */
  credentials?: CredentialStore | Record<string, AuthConfig>;
  /** Parallel layer downloads per pull (Docker's default: 3). */
  maxConcurrentDownloads?: number;
  /** Parallel blob uploads per push (Docker's default: 5). */
  maxConcurrentUploads?: number;
  /** Tries per blob transfer before giving up (default 5). */
  maxAttempts?: number;
  /** First retry delay, doubled each time (default 500 ms). */
  retryDelayMs?: number;
  /** Blobs up to this size are pushed in one PUT, larger ones in PATCH chunks of it (default 64 MiB). */
  chunkSize?: number;
  userAgent?: string;
}

export interface ResolveOptions {
  platform?: Platform | string;
  auth?: AuthConfig;
  signal?: AbortSignal;
}

export interface ResolveResult {
  /** `docker.io/library/busybox:latest` */
  name: string;
  reference: Reference;
  /** What the reference names (index or manifest). */
  target: Descriptor;
  /** The manifest for the platform. */
  manifest: Descriptor;
  /** The manifest document. */
  parsed: ImageManifest;
  /** The index, when the reference names one. */
  index?: ImageIndex;
}

export interface ContentOptions {
  contentStore: ContentStore;
}

interface SharedPull {
  promise: Promise<PullResult>;
  listeners: Set<ProgressHandler>;
  replay: ProgressEvent[];
}

export class RegistryClient {
  private readonly transport: Transport;
  private readonly authorizer: Authorizer;
  private readonly hosts: RegistryHosts;
  private readonly credentials: CredentialStore | undefined;
  private readonly pullDeps: PullDeps;
  private readonly pushDeps: PushDeps;
  private readonly sharedPulls = new WeakMap<BlobStore, Map<string, SharedPull>>();

  constructor(opts: RegistryClientOptions = {}) {
    this.transport = new Transport({ ...(opts.userAgent ? { userAgent: opts.userAgent } : {}) });
    this.authorizer = new Authorizer(this.transport);
    this.hosts = new RegistryHosts({ mirrors: opts.mirrors ?? [], insecureRegistries: opts.insecureRegistries ?? [] });
    const c = opts.credentials;
    this.credentials = c === undefined ? undefined : typeof (c as CredentialStore).get === 'function' ? c as CredentialStore : staticCredentials(c as Record<string, AuthConfig>);
    const session = { transport: this.transport, authorizer: this.authorizer, hosts: this.hosts, credentials: this.credentials };
    const maxAttempts = opts.maxAttempts ?? 5;
    const retryDelayMs = opts.retryDelayMs ?? 500;
    this.pullDeps = {
      ...session, maxConcurrentDownloads: opts.maxConcurrentDownloads ?? 3, maxAttempts, retryDelayMs, inflight: new WeakMap(),
    };
    this.pushDeps = {
      ...session, maxConcurrentUploads: opts.maxConcurrentUploads ?? 5, chunkSize: opts.chunkSize ?? 64 << 20, maxAttempts, retryDelayMs,
    };
  }

  /** Resolves a reference (`busybox`, `host:5000/x:tag`, `x@sha256:…`) to its manifest for a platform, fetching nothing else. */
  async resolve(ref: string | Reference, opts: ResolveOptions = {}): Promise<ResolveResult> {
    const r = typeof ref === 'string' ? parseDockerRef(ref) : ref;
    const platform = opts.platform === undefined ? defaultPlatform() : typeof opts.platform === 'string' ? parsePlatform(opts.platform) : normalizePlatform(opts.platform);
    const res = await withEndpoints(this.pullDeps, r, 'pull', opts.auth, (repo) => resolveOn(repo, r, platform, opts.signal));
    return {
      name: formatReference(r), reference: r, target: res.target, manifest: res.manifest, parsed: res.parsed,
      ...(res.index ? { index: res.index } : {}),
    };
  }

  /**
   * Pulls an image into the content store (and through `unpack`, into snapshots). Concurrent pulls of the same
   * reference into the same store with the same options share one pull (each gets the progress from its start).
   */
  async pull(ref: string | Reference, opts: PullOptions & ContentOptions): Promise<PullResult> {
    const r = typeof ref === 'string' ? parseDockerRef(ref) : ref;
    const store = blobStoreOf(opts.contentStore);
    const platformKey = opts.platform === undefined ? '' : typeof opts.platform === 'string' ? opts.platform : formatPlatform(opts.platform);
    const key = JSON.stringify([formatReference(r), platformKey, opts.auth ?? null, opts.unpack ? unpackerId(opts.unpack) : 0]);
    let shares = this.sharedPulls.get(store);
    if (!shares) {
      shares = new Map();
      this.sharedPulls.set(store, shares);
    }
    const existing = shares.get(key);
    if (existing && !opts.signal) {
      const h = opts.onProgress;
      if (h) {
        for (const e of existing.replay) h(e);
        existing.listeners.add(h);
      }
      try {
        return await existing.promise;
      } finally {
        if (h) existing.listeners.delete(h);
      }
    }
    const shared: SharedPull = { listeners: new Set(opts.onProgress ? [opts.onProgress] : []), replay: [], promise: undefined! };
    const onProgress: ProgressHandler = (e) => {
      shared.replay.push(e);
      if (shared.replay.length > 2000) shared.replay.splice(0, shared.replay.length - 1000);
      for (const l of shared.listeners) {
        try {
          l(e);
        } catch {
          // A consumer's failure must not break the pull.
        }
      }
    };
    shared.promise = pullImage(this.pullDeps, store, r, { ...opts, onProgress });
    if (!opts.signal) shares.set(key, shared);
    try {
      return await shared.promise;
    } finally {
      if (shares.get(key) === shared) shares.delete(key);
    }
  }

  /** Pushes the image whose root is `opts.target` from the content store to `ref` (`host:5000/x:tag`). */
  async push(ref: string | Reference, opts: PushOptions & ContentOptions): Promise<PushResult> {
    const r = typeof ref === 'string' ? parseNormalizedReference(ref) : ref;
    return pushImage(this.pushDeps, blobStoreOf(opts.contentStore), r, opts);
  }

  /** Checks credentials the way `docker login` / `POST /auth` does. */
  async checkLogin(serverAddress: string, creds: AuthConfig): Promise<LoginResult> {
    return checkLogin(this.transport, this.hosts, serverAddress, creds);
  }

  /** `docker search`: the registry's /v1/search, or its catalog filtered by the term. */
  async search(term: string, opts: { limit?: number; auth?: AuthConfig } = {}): Promise<SearchResult[]> {
    return searchRegistry(this.transport, this.hosts, term, {
      ...(opts.limit ? { limit: opts.limit } : {}),
      auth: async (endpoint) => {
        const creds = await credentialsFor(this.pullDeps, endpoint.host, endpoint, opts.auth);
        const repo = { origin: endpoint.origin, creds, scopes: ['registry:catalog:*'], insecureTls: endpoint.insecureTls };
        if (!this.authorizer.knows(endpoint.origin)) {
          const res = await this.transport.request(new URL(`${endpoint.origin}/v2/`), { method: 'GET', insecureTls: endpoint.insecureTls });
          res.discard();
          this.authorizer.learn(endpoint.origin, res.status === 401 ? [res.headers['www-authenticate'] ?? ''].flat() : []);
        }
        return this.authorizer.header(repo, `Get "${endpoint.origin}/v2/_catalog"`).catch(() => undefined);
      },
    });
  }

  /** Tags of a repository (`host:5000/x`). */
  async listTags(repository: string, opts: { auth?: AuthConfig; signal?: AbortSignal } = {}): Promise<string[]> {
    const r = parseNormalizedReference(repository);
    return withEndpoints(this.pullDeps, r, 'pull', opts.auth, (repo) => repo.listTags(opts.signal));
  }

  /** Closes idle connections. */
  close(): void {
    this.transport.close();
  }
}

const unpackerIds = new WeakMap<object, number>();
let nextUnpackerId = 1;
function unpackerId(u: object): number {
  let id = unpackerIds.get(u);
  if (id === undefined) {
    id = nextUnpackerId++;
    unpackerIds.set(u, id);
  }
  return id;
}
