import type { Duplex, Readable } from 'node:stream';
import type { DockerClient, Filters, RequestOptions } from '../client.ts';
import { drain, encodeFilters, readText, seg } from '../client.ts';
import type { RequestBody } from '../http1.ts';
import type {
  ContainerChange, ContainerCreateRequest, ContainerCreateResponse, ContainerInspect, ContainerPathStat,
  ContainerPruneResponse, ContainerStats, ContainerSummary, ContainerTopResponse, ContainerUpdateResponse,
  ContainerWaitResponse, Resources, RestartPolicy,
} from '../types/container.ts';
import type { IdResponse } from '../types/image.ts';

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: string;
  until?: string;
  timestamps?: boolean;
  /** Number of lines from the end, or "all". */
  tail?: string;
  details?: boolean;
}

export interface AttachOptions {
  stream?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  logs?: boolean;
  detachKeys?: string;
}

export interface CommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  pause?: boolean;
  changes?: string[];
  config?: ContainerCreateRequest;
}

/** `/containers/…` endpoints. `id` accepts an id, a unique id prefix or a name. */
export class ContainersApi {
  private readonly c: DockerClient;
  constructor(client: DockerClient) {
    this.c = client;
  }

  list(opts: { all?: boolean; limit?: number; size?: boolean; filters?: Filters } = {}): Promise<ContainerSummary[]> {
    return this.c.json('GET', '/containers/json', {
      query: {
        all: opts.all || undefined, limit: opts.limit, size: opts.size || undefined,
        filters: opts.filters ? encodeFilters(opts.filters) : undefined,
      },
    });
  }

  create(body: ContainerCreateRequest, opts: { name?: string; platform?: string } = {}): Promise<ContainerCreateResponse> {
    return this.c.json('POST', '/containers/create', { query: { name: opts.name || undefined, platform: opts.platform || undefined }, json: body });
  }

  inspect(id: string, opts: { size?: boolean } = {}): Promise<ContainerInspect> {
    return this.c.json('GET', `/containers/${seg(id)}/json`, { query: { size: opts.size || undefined } });
  }

  top(id: string, psArgs?: string): Promise<ContainerTopResponse> {
    return this.c.json('GET', `/containers/${seg(id)}/top`, { query: { ps_args: psArgs || undefined } });
  }

  /** The log stream (multiplexed unless the container has a TTY). */
  async logs(id: string, opts: LogsOptions = {}, signal?: AbortSignal): Promise<Readable> {
    const res = await this.c.request('GET', `/containers/${seg(id)}/logs`, {
      query: {
        follow: opts.follow || undefined, stdout: opts.stdout ?? true, stderr: opts.stderr ?? true, since: opts.since || undefined,
        until: opts.until || undefined, timestamps: opts.timestamps || undefined, tail: opts.tail || undefined,
        details: opts.details || undefined,
      },
      signal,
    });
    return res.body;
  }

  changes(id: string): Promise<ContainerChange[] | null> {
    return this.c.json('GET', `/containers/${seg(id)}/changes`);
  }

  async export(id: string): Promise<Readable> {
    return (await this.c.request('GET', `/containers/${seg(id)}/export`)).body;
  }

  /** A stream of JSON stats samples (`stream: true`) or one sample. */
  async statsStream(id: string, signal?: AbortSignal): Promise<Readable> {
    return (await this.c.request('GET', `/containers/${seg(id)}/stats`, { query: { stream: true }, signal })).body;
  }

  stats(id: string, opts: { oneShot?: boolean } = {}): Promise<ContainerStats> {
    return this.c.json('GET', `/containers/${seg(id)}/stats`, { query: { 'stream': false, 'one-shot': opts.oneShot || undefined } });
  }

  resize(id: string, height: number, width: number): Promise<void> {
    return this.c.call('POST', `/containers/${seg(id)}/resize`, { query: { h: height, w: width } });
  }

  start(id: string, opts: { detachKeys?: string } = {}): Promise<void> {
    return this.c.call('POST', `/containers/${seg(id)}/start`, { query: { detachKeys: opts.detachKeys || undefined } });
  }

  stop(id: string, opts: { signal?: string; timeout?: number } = {}): Promise<void> {
    return this.c.call('POST', `/containers/${seg(id)}/stop`, { query: { signal: opts.signal || undefined, t: opts.timeout } });
  }

  restart(id: string, opts: { signal?: string; timeout?: number } = {}): Promise<void> {
    return this.c.call('POST', `/containers/${seg(id)}/restart`, { query: { signal: opts.signal || undefined, t: opts.timeout } });
  }

  kill(id: string, signal?: string): Promise<void> {
    return this.c.call('POST', `/containers/${seg(id)}/kill`, { query: { signal: signal || undefined } });
  }

  update(id: string, body: Resources & { RestartPolicy?: RestartPolicy }): Promise<ContainerUpdateResponse> {
    return this.c.json('POST', `/containers/${seg(id)}/update`, { json: body });
  }

  rename(id: string, name: string): Promise<void> {
    return this.c.call('POST', `/containers/${seg(id)}/rename`, { query: { name } });
  }

  pause(id: string): Promise<void> {
    return this.c.call('POST', `/containers/${seg(id)}/pause`);
  }

  unpause(id: string): Promise<void> {
    return this.c.call('POST', `/containers/${seg(id)}/unpause`);
  }

  /** Hijacks `POST /containers/{id}/attach`; the socket carries stdin out and (multiplexed) output back. */
  attach(id: string, opts: AttachOptions = {}): Promise<{ socket: Duplex; headers: Record<string, string> }> {
    return this.c.hijack('POST', `/containers/${seg(id)}/attach`, {
      query: {
        stream: opts.stream ?? true, stdin: opts.stdin || undefined, stdout: opts.stdout || undefined, stderr: opts.stderr || undefined,
        logs: opts.logs || undefined, detachKeys: opts.detachKeys || undefined,
      },
    });
  }

  /**
   * Starts `POST /containers/{id}/wait`: resolves once the daemon has accepted the wait (its headers
   * arrived), with a promise for the result — so a caller can start the container only after the wait is armed.
   */
  async waitArmed(id: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running', signal?: AbortSignal):
  Promise<{ result: Promise<ContainerWaitResponse> }> {
    const res = await this.c.request('POST', `/containers/${seg(id)}/wait`, { query: { condition }, signal });
    const result = readText(res.body).then((t) => JSON.parse(t) as ContainerWaitResponse);
    result.catch(() => {});
    return { result };
  }

  async wait(id: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running'): Promise<ContainerWaitResponse> {
    return (await this.waitArmed(id, condition)).result;
  }

  remove(id: string, opts: { volumes?: boolean; force?: boolean; link?: boolean } = {}): Promise<void> {
    return this.c.call('DELETE', `/containers/${seg(id)}`, { query: { v: opts.volumes || undefined, force: opts.force || undefined, link: opts.link || undefined } });
  }

  /** `HEAD …/archive`: what is at `path` in the container. */
  async statPath(id: string, path: string): Promise<ContainerPathStat> {
    const res = await this.c.request('HEAD', `/containers/${seg(id)}/archive`, { query: { path } });
    await drain(res.body);
    return decodePathStat(res.headers['x-docker-container-path-stat']);
  }

  /** `GET …/archive`: a tar of `path`, and its stat. */
  async getArchive(id: string, path: string): Promise<{ stat: ContainerPathStat; body: Readable }> {
    const res = await this.c.request('GET', `/containers/${seg(id)}/archive`, { query: { path } });
    return { stat: decodePathStat(res.headers['x-docker-container-path-stat']), body: res.body };
  }

  /** `PUT …/archive`: extracts a tar into the directory `path`. */
  putArchive(id: string, path: string, tar: RequestBody,
    opts: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean } = {}): Promise<void> {
    return this.c.call('PUT', `/containers/${seg(id)}/archive`, {
      query: { path, noOverwriteDirNonDir: opts.noOverwriteDirNonDir ?? true, copyUIDGID: opts.copyUIDGID || undefined },
      body: tar, headers: { 'Content-Type': 'application/x-tar' },
    });
  }

  prune(filters?: Filters): Promise<ContainerPruneResponse> {
    return this.c.json('POST', '/containers/prune', { query: { filters: filters ? encodeFilters(filters) : undefined } });
  }

  /** `POST /commit`: a new image from the container's changes. */
  commit(opts: CommitOptions): Promise<IdResponse> {
    const req: RequestOptions = {
      query: {
        container: opts.container, repo: opts.repo || undefined, tag: opts.tag || undefined, comment: opts.comment || undefined,
        author: opts.author || undefined, pause: opts.pause === false ? false : undefined,
        changes: opts.changes?.length ? opts.changes : undefined,
      },
      // docker's CLI sends no body unless there is a config to merge
      ...(opts.config ? { json: opts.config } : {}),
    };
    return this.c.json('POST', '/commit', req);
  }
}

function decodePathStat(header: string | undefined): ContainerPathStat {
  if (!header) return { name: '', size: 0, mode: 0, mtime: '', linkTarget: '' };
  return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as ContainerPathStat;
}
