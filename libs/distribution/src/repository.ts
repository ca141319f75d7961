/**
 * One repository on one registry endpoint: the Distribution v2 HTTP operations (manifests, blobs, uploads,
 * mounts, tags) with authorization. Vocabulary: the *endpoint* is where requests go (a mirror or the
 * registry itself), the *path* the repository inside it (`library/busybox`).
 */
import type { Readable } from 'node:stream';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from '@berth/errdefs';
import {
  MediaTypeDockerManifest, MediaTypeDockerManifestList, MediaTypeDockerSchema1SignedManifest, MediaTypeImageIndex,
  MediaTypeImageManifest, digestAlgorithm, digestOf, isDigest, type Descriptor, type Digest,
} from '@berth/oci';
import { type Authorizer, repositoryScope } from './auth.ts';
import type { AuthConfig } from './credentials.ts';
import { connectionError, registryError } from './errors.ts';
import type { Endpoint } from './hosts.ts';
import { header, headerValues, type HttpRequest, type HttpResponse, type Transport } from './transport.ts';

export const MANIFEST_ACCEPT = [
  MediaTypeImageIndex, MediaTypeDockerManifestList, MediaTypeImageManifest, MediaTypeDockerManifest,
  MediaTypeDockerSchema1SignedManifest, 'application/json;q=0.5',
].join(', ');

/** Manifests larger than this are refused (containerd's limit). */
export const MAX_MANIFEST_SIZE = 4 << 20;

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface UploadLocation {
  url: URL;
  /** Bytes the registry holds for this upload. */
  offset: number;
  /** The registry's minimum chunk size (`OCI-Chunk-Min-Length`), if it says. */
  minChunk?: number;
}

export interface RepositoryOptions {
  transport: Transport;
  authorizer: Authorizer;
  endpoint: Endpoint;
  path: string;
  creds?: AuthConfig;
  actions: ('pull' | 'push')[];
  /** More scopes for every token (cross-repository mount sources). */
  extraScopes?: string[];
}

type Method = HttpRequest['method'];

function goMethod(m: Method): string {
  return m[0] + m.slice(1).toLowerCase();
}

export class RegistryRepository {
  readonly endpoint: Endpoint;
  readonly path: string;
  private readonly o: RepositoryOptions;
  private scopes: string[];

  constructor(o: RepositoryOptions) {
    this.o = o;
    this.endpoint = o.endpoint;
    this.path = o.path;
    this.scopes = [repositoryScope(o.path, o.actions), ...(o.extraScopes ?? [])];
  }

  /** Whether requests go without credentials. */
  get anonymous(): boolean {
    const c = this.o.creds;
    return !c || !(c.username || c.password || c.auth || c.identitytoken || c.registrytoken);
  }

  /** Adds a scope for later tokens (e.g. `repository:other:pull` before a mount from it). */
  addScope(scope: string): void {
    if (!this.scopes.includes(scope)) this.scopes = [...this.scopes, scope];
  }

  url(suffix: string): URL {
    return new URL(`${this.endpoint.origin}/v2/${this.path}/${suffix}`);
  }

  /** GET /v2/: checks the endpoint speaks the registry API and learns its auth challenge. */
  async ping(signal?: AbortSignal): Promise<void> {
    const url = new URL(`${this.endpoint.origin}/v2/`);
    const ctx = `Get "${url.href}"`;
    let res: HttpResponse;
    try {
      res = await this.o.transport.request(url, { method: 'GET', insecureTls: this.endpoint.insecureTls, signal, idleTimeoutMs: 30_000 });
    } catch (err) {
      throw connectionError(err, ctx);
    }
    const body = await res.text(1 << 20).catch(() => '');
    if (res.status === 200) {
      this.o.authorizer.learn(this.endpoint.origin, []);
      return;
    }
    if (res.status === 401) {
      this.o.authorizer.learn(this.endpoint.origin, headerValues(res.headers, 'www-authenticate'));
      return;
    }
    throw registryError(res.status, body, ctx);
  }

  /**
   * Sends a request with authorization; a 401 is answered once by learning the challenge again and fetching a
   * fresh token (not for streamed bodies, which cannot be replayed). Returns the response whatever its status.
   */
  async request(method: Method, url: URL, req: Omit<HttpRequest, 'method'> = {}): Promise<HttpResponse> {
    const ctx = `${goMethod(method)} "${url.href}"`;
    const origin = this.endpoint.origin;
    if (!this.o.authorizer.knows(origin)) await this.ping(req.signal);
    const replayable = req.body === undefined || typeof req.body === 'string' || Buffer.isBuffer(req.body);
    for (let attempt = 0; ; attempt++) {
      const auth = { origin, creds: this.o.creds, scopes: this.scopes, insecureTls: this.endpoint.insecureTls };
      const authorization = await this.o.authorizer.header(auth, ctx);
      let res: HttpResponse;
      try {
        res = await this.o.transport.request(url, {
          ...req,
          method,
          insecureTls: this.endpoint.insecureTls,
          headers: { ...req.headers, ...(authorization ? { Authorization: authorization } : {}) },
        });
      } catch (err) {
        throw connectionError(err, ctx);
      }
      if (res.status === 401 && attempt === 0 && replayable) {
        // Basic credentials that were refused stay refused; a token may lack a scope or have expired: learn the
        // challenge again and fetch a fresh one, once.
        if (this.o.authorizer.scheme(origin) === 'basic' && authorization) return res;
        const challenges = headerValues(res.headers, 'www-authenticate');
        res.discard();
        if (challenges.length > 0) this.o.authorizer.learn(origin, challenges);
        this.o.authorizer.invalidate(auth);
        continue;
      }
      return res;
    }
  }

  /** Throws the registry's error for a failed response (reading its body). */
  async fail(res: HttpResponse, method: Method, withContext: boolean): Promise<never> {
    const body = await res.text(1 << 20).catch(() => '');
    throw registryError(res.status, body, withContext ? `${goMethod(method)} "${res.url.href}"` : undefined);
  }

  /**
   * Fetches a manifest by tag or digest and verifies it: against the digest asked for, else against the
   * registry's `Docker-Content-Digest`. The descriptor carries the media type the registry served.
   */
  async getManifest(reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const url = this.url(`manifests/${reference}`);
    const res = await this.request('GET', url, { headers: { Accept: MANIFEST_ACCEPT }, signal });
    if (res.status !== 200) await this.fail(res, 'GET', false);
    const bytes = await res.buffer(MAX_MANIFEST_SIZE).catch((err: unknown) => {
      throw new InvalidArgumentError(`manifest ${reference} from ${this.endpoint.host}/${this.path}: ${(err as Error).message}`, { cause: err });
    });
    const headerDigest = header(res.headers, 'docker-content-digest');
    const expected = isDigest(reference) ? reference : headerDigest && isDigest(headerDigest) ? headerDigest : undefined;
    const actual = digestOf(bytes, expected ? digestAlgorithm(expected) : 'sha256');
    if (expected && actual !== expected) {
      throw new FailedPreconditionError(`manifest verification failed for digest ${expected}: got ${actual} from ${url.href}`);
    }
    const contentType = (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim();
    const mediaType = contentType && contentType !== 'application/json' && contentType !== 'text/plain' ? contentType : sniffMediaType(bytes);
    return { descriptor: { mediaType, digest: actual as Digest, size: bytes.length }, bytes };
  }

  /** HEAD of a manifest: its descriptor, or undefined when the registry does not know it. */
  async headManifest(reference: string, signal?: AbortSignal): Promise<Descriptor | undefined> {
    const res = await this.request('HEAD', this.url(`manifests/${reference}`), { headers: { Accept: MANIFEST_ACCEPT }, signal });
    res.discard();
    if (res.status === 404) return undefined;
    if (res.status !== 200) await this.fail(res, 'HEAD', true);
    const d = header(res.headers, 'docker-content-digest');
    const size = Number(header(res.headers, 'content-length'));
    if (!d || !isDigest(d)) return undefined;
    return { mediaType: (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim(), digest: d, size };
  }

  /**
   * Opens a blob for reading from `offset` (a `Range` request when offset > 0). Returns the body and the
   * offset it actually starts at (0 when the registry ignored the range).
   */
  async openBlob(digest: Digest, offset: number, signal?: AbortSignal): Promise<{ body: Readable; offset: number; length?: number }> {
    const url = this.url(`blobs/${digest}`);
    const headers: Record<string, string> = {};
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const res = await this.request('GET', url, { headers, signal });
    if (res.status === 200 || res.status === 206) {
      let start = 0;
      if (res.status === 206) {
        const m = /^bytes (\d+)-/.exec(header(res.headers, 'content-range') ?? '');
        start = m ? Number(m[1]) : offset;
      }
      const len = header(res.headers, 'content-length');
      return { body: res.body, offset: start, ...(len ? { length: Number(len) } : {}) };
    }
    if (res.status === 416 && offset > 0) {
      // The range starts at or past the end: the registry has no more bytes for us; fetch from the start.
      res.discard();
      return this.openBlob(digest, 0, signal);
    }
    return this.fail(res, 'GET', res.status >= 500 || res.status === 401);
  }

  /** Whether the repository has a blob (HEAD). */
  async hasBlob(digest: Digest, signal?: AbortSignal): Promise<boolean> {
    const url = this.url(`blobs/${digest}`);
    const res = await this.request('HEAD', url, { signal });
    res.discard();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.fail(res, 'HEAD', true);
  }

  /**
   * Tries a cross-repository mount of `digest` from `from`: `mounted` when the registry linked it, else an
   * upload session the registry opened instead (the spec's fallback) for the caller to use.
   */
  async mountBlob(digest: Digest, from: string, signal?: AbortSignal): Promise<'mounted' | UploadLocation> {
    this.addScope(repositoryScope(from, ['pull']));
    const url = this.url('blobs/uploads/');
    url.searchParams.set('mount', digest);
    url.searchParams.set('from', from);
    const res = await this.request('POST', url, { signal });
    if (res.status === 201) {
      res.discard();
      return 'mounted';
    }
    if (res.status === 202) {
      res.discard();
      return this.location(res);
    }
    return this.fail(res, 'POST', true);
  }

  /** Starts an upload session (POST …/blobs/uploads/). */
  async startUpload(signal?: AbortSignal): Promise<UploadLocation> {
    const res = await this.request('POST', this.url('blobs/uploads/'), { signal });
    if (res.status !== 202) return this.fail(res, 'POST', true);
    res.discard();
    return this.location(res);
  }

  /** Where an upload stands (GET on its location), for resuming after a failed chunk. */
  async uploadStatus(loc: UploadLocation, signal?: AbortSignal): Promise<UploadLocation> {
    const res = await this.request('GET', loc.url, { signal });
    if (res.status !== 204 && res.status !== 200) return this.fail(res, 'GET', true);
    res.discard();
    return this.location(res, loc.url);
  }

  /** Sends one chunk (PATCH with Content-Range) and returns the next location. */
  async uploadChunk(loc: UploadLocation, chunk: Buffer | Readable, length: number, signal?: AbortSignal): Promise<UploadLocation> {
    const res = await this.request('PATCH', loc.url, {
      body: chunk,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(length),
        'Content-Range': `${loc.offset}-${loc.offset + length - 1}`,
      },
      signal,
    });
    if (res.status !== 202) return this.fail(res, 'PATCH', true);
    res.discard();
    const next = this.location(res, loc.url);
    if (next.offset !== loc.offset + length) {
      throw new UnavailableError(`upload to ${this.endpoint.host}/${this.path}: registry holds ${next.offset} bytes, expected ${loc.offset + length}`);
    }
    return next;
  }

  /** Completes an upload (PUT ?digest=), with the remaining body or none. */
  async finishUpload(loc: UploadLocation, digest: Digest, body?: Buffer | Readable, length = 0, signal?: AbortSignal): Promise<void> {
    const url = new URL(loc.url);
    url.searchParams.set('digest', digest);
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length) };
    const res = await this.request('PUT', url, { ...(body ? { body } : {}), headers, signal, idleTimeoutMs: 300_000 });
    if (res.status !== 201 && res.status !== 204) return this.fail(res, 'PUT', true);
    res.discard();
  }

  /** Cancels an upload session (best effort). */
  async cancelUpload(loc: UploadLocation): Promise<void> {
    try {
      const res = await this.request('DELETE', loc.url);
      res.discard();
    } catch {
      // The registry expires abandoned uploads itself.
    }
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry reports. */
  async putManifest(reference: string, mediaType: string, bytes: Buffer, signal?: AbortSignal): Promise<Digest> {
    const res = await this.request('PUT', this.url(`manifests/${reference}`), { body: bytes, headers: { 'Content-Type': mediaType }, signal });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) return this.fail(res, 'PUT', false);
    res.discard();
    const d = header(res.headers, 'docker-content-digest');
    const actual = digestOf(bytes);
    if (d && isDigest(d) && d !== actual && digestAlgorithm(d) === 'sha256') {
      throw new FailedPreconditionError(`registry stored manifest ${reference} as ${d}, expected ${actual}`);
    }
    return actual;
  }

  /** Tags of the repository (GET …/tags/list, following `Link` pagination). */
  async listTags(signal?: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let url: URL | undefined = this.url('tags/list');
    while (url) {
      const res: HttpResponse = await this.request('GET', url, { signal });
      if (res.status === 404) {
        res.discard();
        throw new NotFoundError(`repository ${this.endpoint.host}/${this.path} not found`);
      }
      if (res.status !== 200) return this.fail(res, 'GET', false);
      const doc = JSON.parse(await res.text()) as { tags?: string[] | null };
      tags.push(...(doc.tags ?? []));
      const link = /<([^>]+)>;\s*rel="?next"?/.exec(header(res.headers, 'link') ?? '');
      url = link ? new URL(link[1]!, url) : undefined;
    }
    return tags;
  }

  private location(res: HttpResponse, base?: URL): UploadLocation {
    const loc = header(res.headers, 'location');
    if (!loc) throw new UnavailableError(`upload to ${this.endpoint.host}/${this.path}: registry gave no upload location`);
    // `Range: 0-<last byte>`; distribution sends `0-0` for an empty upload too, so 0-0 reads as nothing held.
    const range = /^(?:bytes=)?0-(\d+)$/.exec(header(res.headers, 'range') ?? '');
    const min = Number(header(res.headers, 'oci-chunk-min-length'));
    return {
      url: new URL(loc, base ?? res.url),
      offset: range && Number(range[1]) > 0 ? Number(range[1]) + 1 : 0,
      ...(Number.isFinite(min) && min > 0 ? { minChunk: min } : {}),
    };
  }
}

function sniffMediaType(bytes: Buffer): string {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown; schemaVersion?: number };
    if (doc.mediaType) return doc.mediaType;
    if (doc.schemaVersion === 1) return MediaTypeDockerSchema1SignedManifest;
    return doc.manifests ? MediaTypeImageIndex : MediaTypeImageManifest;
  } catch {
    return MediaTypeImageManifest;
  }
}
