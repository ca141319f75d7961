import type { Readable } from 'node:stream';
import type { DockerClient, Filters } from '../client.ts';
import { encodeFilters } from '../client.ts';
import type { AuthConfig, AuthResponse, SystemDataUsage, SystemInfo, SystemVersion } from '../types/system.ts';

/** `/info`, `/version`, `/auth`, `/events`, `/system/df`. */
export class SystemApi {
  private readonly c: DockerClient;
  constructor(client: DockerClient) {
    this.c = client;
  }

  info(): Promise<SystemInfo> {
    return this.c.json('GET', '/info');
  }

  version(): Promise<SystemVersion> {
    return this.c.json('GET', '/version');
  }

  /** Validates credentials with the daemon (which asks the registry). */
  auth(auth: AuthConfig): Promise<AuthResponse> {
    return this.c.json('POST', '/auth', { json: auth });
  }

  /** The event stream (JSON lines); ends at `until`, or never when it is not given. */
  async events(opts: { since?: string; until?: string; filters?: Filters } = {}, signal?: AbortSignal): Promise<Readable> {
    const res = await this.c.request('GET', '/events', {
      query: {
        since: opts.since || undefined, until: opts.until || undefined,
        filters: opts.filters ? encodeFilters(opts.filters) : undefined,
      },
      signal,
    });
    return res.body;
  }

  df(opts: { type?: string[] } = {}): Promise<SystemDataUsage> {
    return this.c.json('GET', '/system/df', { query: { type: opts.type?.length ? opts.type : undefined } });
  }
}
