import type { Readable } from 'node:stream';
import type { DockerClient, Filters } from '../client.ts';
import { base64UrlPadded, encodeFilters, seg } from '../client.ts';
import type { RequestBody } from '../http1.ts';
import type {
  BuildCachePruneResponse, ImageDeleteResponseItem, ImageHistoryItem, ImageInspect, ImagePruneResponse,
  ImageSearchResult, ImageSummary,
} from '../types/image.ts';
import type { AuthConfig } from '../types/system.ts';

/** Query parameters of the classic builder's `POST /build`. */
export interface BuildOptions {
  dockerfile?: string;
  t?: string[];
  extrahosts?: string;
  remote?: string;
  q?: boolean;
  nocache?: boolean;
  cachefrom?: string[];
  pull?: boolean;
  rm?: boolean;
  forcerm?: boolean;
  memory?: number;
  memswap?: number;
  cpushares?: number;
  cpusetcpus?: string;
  cpuperiod?: number;
  cpuquota?: number;
  buildargs?: Record<string, string>;
  shmsize?: number;
  labels?: Record<string, string>;
  networkmode?: string;
  platform?: string;
  target?: string;
  outputs?: string;
  /** Registry credentials by registry host, sent as `X-Registry-Config`. */
  registryConfig?: Record<string, AuthConfig>;
}

/** `/images/…`, `/build` endpoints. Progress endpoints return the JSON-lines body (see `jsonLines`). */
export class ImagesApi {
  private readonly c: DockerClient;
  constructor(client: DockerClient) {
    this.c = client;
  }

  list(opts: { all?: boolean; filters?: Filters; digests?: boolean; sharedSize?: boolean } = {}): Promise<ImageSummary[]> {
    return this.c.json('GET', '/images/json', {
      query: {
        'all': opts.all || undefined, 'filters': opts.filters ? encodeFilters(opts.filters) : undefined,
        'digests': opts.digests || undefined, 'shared-size': opts.sharedSize || undefined,
      },
    });
  }

  /** `POST /images/create?fromImage=…`: pull; the body is JSON progress. */
  async pull(image: string, opts: { tag?: string; platform?: string; auth?: AuthConfig; signal?: AbortSignal } = {}): Promise<Readable> {
    const res = await this.c.request('POST', '/images/create', {
      query: { fromImage: image, tag: opts.tag || undefined, platform: opts.platform || undefined },
      auth: opts.auth ?? {}, signal: opts.signal,
    });
    return res.body;
  }

  /** `POST /images/create?fromSrc=-`: import a filesystem tarball; the body is JSON progress. */
  async import(tar: RequestBody,
    opts: { source?: string; repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string } = {}):
  Promise<Readable> {
    const fromUrl = opts.source !== undefined && opts.source !== '-';
    const res = await this.c.request('POST', '/images/create', {
      query: {
        fromSrc: fromUrl ? opts.source : '-', repo: opts.repo || undefined, tag: opts.tag || undefined, message: opts.message || undefined,
        changes: opts.changes?.length ? opts.changes : undefined, platform: opts.platform || undefined,
      },
      ...(fromUrl ? {} : { body: tar, headers: { 'Content-Type': 'application/x-tar' } }),
    });
    return res.body;
  }

  inspect(name: string): Promise<ImageInspect> {
    return this.c.json('GET', `/images/${seg(name)}/json`);
  }

  history(name: string): Promise<ImageHistoryItem[]> {
    return this.c.json('GET', `/images/${seg(name)}/history`);
  }

  /** `POST /images/{name}/push`: the body is JSON progress. */
  async push(name: string, opts: { tag?: string; auth?: AuthConfig; signal?: AbortSignal } = {}): Promise<Readable> {
    const res = await this.c.request('POST', `/images/${seg(name)}/push`, { query: { tag: opts.tag || undefined }, auth: opts.auth ?? {}, signal: opts.signal });
    return res.body;
  }

  tag(name: string, repo: string, tag?: string): Promise<void> {
    return this.c.call('POST', `/images/${seg(name)}/tag`, { query: { repo, tag: tag || undefined } });
  }

  remove(name: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteResponseItem[]> {
    return this.c.json('DELETE', `/images/${seg(name)}`, { query: { force: opts.force || undefined, noprune: opts.noprune || undefined } });
  }

  search(term: string, opts: { limit?: number; filters?: Filters; auth?: AuthConfig } = {}): Promise<ImageSearchResult[]> {
    return this.c.json('GET', '/images/search', {
      query: { term, limit: opts.limit, filters: opts.filters ? encodeFilters(opts.filters) : undefined }, auth: opts.auth,
    });
  }

  prune(filters?: Filters): Promise<ImagePruneResponse> {
    return this.c.json('POST', '/images/prune', { query: { filters: filters ? encodeFilters(filters) : undefined } });
  }

  /** `GET /images/get?names=…`: a docker-archive tarball of the images. */
  async save(names: string[]): Promise<Readable> {
    return (await this.c.request('GET', '/images/get', { query: { names } })).body;
  }

  /** `POST /images/load`: the body is JSON progress. */
  async load(tar: RequestBody, opts: { quiet?: boolean } = {}): Promise<Readable> {
    const res = await this.c.request('POST', '/images/load', { query: { quiet: opts.quiet || undefined }, body: tar, headers: { 'Content-Type': 'application/x-tar' } });
    return res.body;
  }

  /** The classic builder: `POST /build` with a tar context; the body is JSON progress (`stream`, `aux`). */
  async build(context: RequestBody, opts: BuildOptions = {}, signal?: AbortSignal): Promise<Readable> {
    const { registryConfig, buildargs, labels, cachefrom, ...rest } = opts;
    const headers: Record<string, string> = { 'Content-Type': 'application/x-tar' };
    if (registryConfig) headers['X-Registry-Config'] = base64UrlPadded(JSON.stringify(registryConfig));
    const res = await this.c.request('POST', '/build', {
      query: {
        ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, typeof v === 'boolean' ? v || undefined : v])),
        buildargs: buildargs && Object.keys(buildargs).length ? JSON.stringify(buildargs) : undefined,
        labels: labels && Object.keys(labels).length ? JSON.stringify(labels) : undefined,
        cachefrom: cachefrom?.length ? JSON.stringify(cachefrom) : undefined,
        version: '1',
      },
      body: context, headers, signal,
    });
    return res.body;
  }

  buildPrune(opts: { all?: boolean; filters?: Filters; keepStorage?: number } = {}): Promise<BuildCachePruneResponse> {
    return this.c.json('POST', '/build/prune', {
      query: { 'all': opts.all || undefined, 'filters': opts.filters ? encodeFilters(opts.filters) : undefined, 'keep-storage': opts.keepStorage },
    });
  }
}
