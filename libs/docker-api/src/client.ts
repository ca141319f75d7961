import { fromHttp, type BerthError } from '@berth/errdefs';
import type { Duplex, Readable } from 'node:stream';
import { parseHost, selectHost, type HostAddress } from './host.ts';
import { ConnectError, Transport, type HttpResponse, type RequestBody, type TlsOptions } from './http1.ts';
import type { AuthConfig, PingInfo } from './types/system.ts';
import { ContainersApi } from './api/containers.ts';
import { ImagesApi } from './api/images.ts';
import { NetworksApi } from './api/networks.ts';
import { VolumesApi } from './api/volumes.ts';
import { ExecApi } from './api/exec.ts';
import { SystemApi } from './api/system.ts';

/** The newest Engine API version this client speaks (docker CLI 28's). */
export const MAX_API_VERSION = '1.50';
/** What a daemon that does not say is assumed to speak. */
export const FALLBACK_API_VERSION = '1.24';

export interface ClientOptions {
  /** `unix:///…`, `tcp://host:port`, … (default: BERTH_HOST, DOCKER_HOST, then berthd's socket). */
  host?: string;
  /** Use TLS for tcp:// hosts (implied by `tls.verify`). */
  tls?: boolean | (TlsOptions & { enabled?: boolean });
  /** Pin the API version (no `/_ping` negotiation), like DOCKER_API_VERSION. */
  version?: string;
  /** The newest version to negotiate (default MAX_API_VERSION). */
  maxVersion?: string;
  userAgent?: string;
  /** Extra headers on every request (config.json `HttpHeaders`). */
  headers?: Record<string, string>;
}

export type QueryValue = string | number | boolean | undefined | null | string[];
export type Query = Record<string, QueryValue>;

/** Docker's filter map (`--filter key=value`, repeated): sent as `{"key":{"value":true}}`. */
export type Filters = Record<string, string[]>;

export interface RequestOptions {
  query?: Query;
  /** A JSON body (serialized, with `Content-Type: application/json`). */
  json?: unknown;
  /** A raw body. */
  body?: RequestBody;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Registry credentials for `X-Registry-Auth`. */
  auth?: AuthConfig;
  /** Send to the unversioned path (`/_ping`, `/session`). */
  unversioned?: boolean;
}

/** The HTTP status an error response from the daemon had (undefined for errors that did not come from it). */
export function daemonStatus(err: unknown): number | undefined {
  return (err as { [STATUS]?: number } | null)?.[STATUS];
}
const STATUS = Symbol.for('berth.docker-api.status');

/** True when the daemon could not be reached at all. */
export function isConnectError(err: unknown): err is ConnectError {
  return err instanceof ConnectError;
}

/**
 * A typed Docker Engine API client. Speaks HTTP/1.1 to berthd or a real dockerd over a unix socket or
 * TCP (+TLS), negotiates the API version with `/_ping` on first use (min of the daemon's and ours), and
 * turns error responses into `@berth/errdefs` errors carrying the daemon's message.
 */
export class DockerClient {
  readonly host: string;
  readonly address: HostAddress;
  readonly containers: ContainersApi;
  readonly images: ImagesApi;
  readonly networks: NetworksApi;
  readonly volumes: VolumesApi;
  readonly exec: ExecApi;
  readonly system: SystemApi;
  private readonly transport: Transport;
  private readonly opts: ClientOptions;
  private negotiated: Promise<string> | undefined;
  private pingResult: PingInfo | undefined;

  constructor(opts: ClientOptions = {}) {
    this.opts = opts;
    const tlsOpt = typeof opts.tls === 'object' ? opts.tls : { enabled: opts.tls === true };
    const useTls = tlsOpt.enabled === true || tlsOpt.verify === true;
    this.address = parseHost(selectHost(opts.host), useTls);
    this.host = this.address.url;
    this.transport = new Transport(this.address, tlsOpt);
    if (opts.version) this.negotiated = Promise.resolve(opts.version.replace(/^v/, ''));
    this.containers = new ContainersApi(this);
    this.images = new ImagesApi(this);
    this.networks = new NetworksApi(this);
    this.volumes = new VolumesApi(this);
    this.exec = new ExecApi(this);
    this.system = new SystemApi(this);
  }

  /**
   * A client configured from the environment as docker's CLI is: BERTH_HOST / DOCKER_HOST, DOCKER_TLS_VERIFY
   * and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), DOCKER_API_VERSION.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, overrides: ClientOptions = {}): DockerClient {
    const fs = process.getBuiltinModule('node:fs');
    const verify = env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '';
    let tls: ClientOptions['tls'] = verify;
    if (verify && env.DOCKER_CERT_PATH) {
      const read = (f: string) => fs.readFileSync(`${env.DOCKER_CERT_PATH}/${f}`);
      tls = { enabled: true, verify: true, ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
    }
    return new DockerClient({
      host: selectHost(undefined, env),
      tls,
      ...(env.DOCKER_API_VERSION ? { version: env.DOCKER_API_VERSION } : {}),
      ...overrides,
    });
  }

  /** Closes idle connections (the client stays usable). */
  close(): void {
    this.transport.close();
  }

  /** `HEAD /_ping` (GET as a fallback): the daemon's API version and platform, from its headers. */
  async ping(signal?: AbortSignal): Promise<PingInfo> {
    let res = await this.transport.request({ method: 'HEAD', path: '/_ping', headers: this.baseHeaders(), signal });
    res.body.resume();
    if (res.status >= 400 && res.status !== 500) {
      res = await this.transport.request({ method: 'GET', path: '/_ping', headers: this.baseHeaders(), signal });
      await drain(res.body);
    }
    if (res.status >= 400 && res.headers['api-version'] === undefined) {
      throw this.errorFor(res.status, `ping ${this.host}: ${res.status} ${res.statusText}`);
    }
    const h = res.headers;
    this.pingResult = {
      apiVersion: h['api-version'] ?? '',
      osType: h.ostype ?? '',
      experimental: h['docker-experimental'] === 'true',
      builderVersion: h['builder-version'] ?? '',
      server: h.server ?? '',
    };
    return this.pingResult;
  }

  /** The API version requests use: pinned, or negotiated once with `/_ping`. */
  apiVersion(): Promise<string> {
    this.negotiated ??= this.ping().then((p) => {
      const max = this.opts.maxVersion ?? MAX_API_VERSION;
      if (!p.apiVersion) return FALLBACK_API_VERSION;
      return compareVersions(p.apiVersion, max) < 0 ? p.apiVersion : max;
    }, (err: unknown) => {
      this.negotiated = undefined;
      throw err;
    });
    return this.negotiated;
  }

  /** What the last `/_ping` said (undefined until one was made). */
  get lastPing(): PingInfo | undefined {
    return this.pingResult;
  }

  /** True when the negotiated API version is at least `v`. */
  async supports(v: string): Promise<boolean> {
    return compareVersions(await this.apiVersion(), v) >= 0;
  }

  /** Sends a request; a status ≥ 400 becomes a typed error with the daemon's message (body consumed). */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    const res = await this.send(method, path, opts, false);
    if (res.status >= 400) throw await this.errorFromResponse(res);
    return res;
  }

  /** A request whose JSON answer is returned (undefined for an empty body). */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = await readText(res.body);
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** A request whose answer is discarded. */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<void> {
    const res = await this.request(method, path, opts);
    await drain(res.body);
  }

  /**
   * A hijacked request (attach, exec start): sends `Upgrade: tcp` and returns the raw bidirectional socket
   * once the daemon answered `101 UPGRADED` (or a raw 200 stream). The socket is returned paused, with any
   * bytes that came with the response head still in it: read it with `for await`, `pipe()`, or `resume()`.
   */
  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<{ socket: Duplex; headers: Record<string, string> }> {
    const res = await this.send(method, path, opts, true);
    if (res.status >= 400) throw await this.errorFromResponse(res);
    if (!res.socket) {
      // The daemon answered with a plain body (no upgrade): expose it read-only.
      return { socket: res.body as unknown as Duplex, headers: res.headers };
    }
    return { socket: res.socket, headers: res.headers };
  }

  /** Builds the path with the API version prefix and query string. */
  async url(path: string, query?: Query, unversioned = false): Promise<string> {
    const qs = query ? encodeQuery(query) : '';
    const prefix = unversioned ? '' : `/v${await this.apiVersion()}`;
    return `${prefix}${path}${qs ? `?${qs}` : ''}`;
  }

  private async send(method: string, path: string, opts: RequestOptions, upgrade: boolean): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...this.baseHeaders(), ...opts.headers };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] = 'application/json';
    }
    if (opts.auth) headers['X-Registry-Auth'] = encodeAuth(opts.auth);
    const url = await this.url(path, opts.query, opts.unversioned);
    return this.transport.request({ method, path: url, headers, body, upgrade, signal: opts.signal });
  }

  private baseHeaders(): Record<string, string> {
    return { 'User-Agent': this.opts.userAgent ?? 'berth-docker-api', ...this.opts.headers };
  }

  private async errorFromResponse(res: HttpResponse): Promise<BerthError> {
    const text = await readText(res.body).catch(() => '');
    let message = text.trim();
    try {
      const parsed = JSON.parse(text) as { message?: string };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not JSON: the text itself is the message
    }
    if (message === '') message = `${res.status} ${res.statusText}`.trim();
    return this.errorFor(res.status, message);
  }

  private errorFor(status: number, message: string): BerthError {
    const err = fromHttp(status, message);
    Object.defineProperty(err, STATUS, { value: status, enumerable: false });
    return err;
  }
}

/** `X-Registry-Auth`: URL-safe base64 of the JSON credentials, padded (Go's base64.URLEncoding). */
export function encodeAuth(auth: AuthConfig): string {
  return base64UrlPadded(JSON.stringify(auth));
}

/** Go's base64.URLEncoding: the URL-safe alphabet with `=` padding (daemons reject unpadded input). */
export function base64UrlPadded(text: string): string {
  return Buffer.from(text).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** Docker's filters query value: `{"key":{"value":true,…},…}`. */
export function encodeFilters(filters: Filters): string {
  const out: Record<string, Record<string, boolean>> = {};
  for (const [k, vs] of Object.entries(filters)) {
    if (vs.length === 0) continue;
    out[k] = Object.fromEntries(vs.map((v) => [v, true]));
  }
  return JSON.stringify(out);
}

export function encodeQuery(query: Query): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) {
      for (const item of v) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(item)}`);
    } else {
      const s = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
      parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(s)}`);
    }
  }
  return parts.join('&');
}

/** Compares dotted API versions numerically ("1.9" < "1.41"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(typeof c === 'string' ? Buffer.from(c) : c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(typeof c === 'string' ? Buffer.from(c) : c as Buffer);
  return Buffer.concat(chunks);
}

export async function drain(body: Readable): Promise<void> {
  for await (const _ of body) { /* discard */ }
}

/** Escapes a path segment (container/image names may contain `/` and `:`; those stay as they are). */
export function seg(name: string): string {
  return encodeURIComponent(name).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/g, '@');
}
