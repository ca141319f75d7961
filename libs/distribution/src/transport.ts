/**
 * The HTTP layer under the registry client: node:http/https with keep-alive agents (one pair per client),
 * streaming bodies both ways, redirects followed for GET/HEAD (dropping credentials when the host changes, as
 * Go's client does), and an idle timeout so a registry that stops sending fails the request instead of
 * hanging it.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  /** A buffer, string, or stream (streamed with backpressure; set Content-Length yourself when known). */
  body?: Buffer | string | Readable;
  /** Skip TLS verification (insecure registries). */
  insecureTls?: boolean;
  signal?: AbortSignal;
  /** Fail when no byte arrives for this long (ms); default 60 s. */
  idleTimeoutMs?: number;
  /** Follow up to this many redirects for GET/HEAD; default 5. */
  maxRedirects?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The final URL after redirects. */
  url: URL;
  /** The body stream; consume it or call `discard()`. */
  body: IncomingMessage;
  /** Reads the whole body (for small documents), failing past `limit` bytes. */
  text(limit?: number): Promise<string>;
  buffer(limit?: number): Promise<Buffer>;
  discard(): void;
}

export class Transport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly insecureAgent: https.Agent;
  readonly userAgent: string;

  constructor(opts: { maxSockets?: number; userAgent?: string } = {}) {
    const common = { keepAlive: true, maxSockets: opts.maxSockets ?? 32, scheduling: 'lifo' as const };
    this.httpAgent = new http.Agent(common);
    this.httpsAgent = new https.Agent(common);
    this.insecureAgent = new https.Agent({ ...common, rejectUnauthorized: false });
    this.userAgent = opts.userAgent ?? 'berth/0.1 (distribution)';
  }

  async request(url: URL, req: HttpRequest): Promise<HttpResponse> {
    let current = url;
    let headers = { ...req.headers };
    const maxRedirects = req.maxRedirects ?? 5;
    for (let hop = 0; ; hop++) {
      const res = await this.once(current, { ...req, headers });
      const location = res.headers.location;
      const redirect = [301, 302, 303, 307, 308].includes(res.status) && location !== undefined;
      if (!redirect || (req.method !== 'GET' && req.method !== 'HEAD') || hop >= maxRedirects) return res;
      res.discard();
      const next = new URL(location, current);
      if (next.host !== current.host) {
        // Credentials for the registry are not for the blob storage it redirects to.
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
      current = next;
    }
  }

  private once(url: URL, req: HttpRequest): Promise<HttpResponse> {
    const isHttps = url.protocol === 'https:';
    const agent = isHttps ? (req.insecureTls ? this.insecureAgent : this.httpsAgent) : this.httpAgent;
    const mod = isHttps ? https : http;
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...req.headers };
    if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) headers['Content-Length'] = String(Buffer.byteLength(req.body));
    else if (req.body === undefined && ['POST', 'PUT', 'PATCH'].includes(req.method)) headers['Content-Length'] = '0';
    const idle = req.idleTimeoutMs ?? 60_000;
    return new Promise<HttpResponse>((resolve, reject) => {
      const cr = mod.request(url, { method: req.method, headers, agent, signal: req.signal });
      cr.setTimeout(idle, () => {
        const err = Object.assign(new Error(`no response within ${idle} ms`), { code: 'ETIMEDOUT' });
        cr.destroy(err);
      });
      cr.on('error', reject);
      // The socket's idle timer stays armed while the body streams, so a stalled transfer errors the body.
      cr.on('response', (res) => resolve(wrapResponse(url, res)));
      if (req.body === undefined) cr.end();
      else if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) cr.end(req.body);
      else pipeline(req.body, cr).catch((err: unknown) => cr.destroy(err as Error));
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.insecureAgent.destroy();
  }
}

function wrapResponse(url: URL, res: IncomingMessage): HttpResponse {
  const buffer = async (limit = 8 << 20): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > limit) {
        res.destroy();
        throw new Error(`response from ${url.href} is larger than ${limit} bytes`);
      }
      chunks.push(c);
    }
    return Buffer.concat(chunks);
  };
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    url,
    body: res,
    buffer,
    text: async (limit) => (await buffer(limit)).toString('utf8'),
    // Always resume: a body that is complete but unread (every HEAD) holds its keep-alive socket until read.
    discard: () => void res.resume(),
  };
}

/** One header value as a string (first of several). */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** All values of a header, split as repeated headers arrive (WWW-Authenticate may come several times). */
export function headerValues(headers: IncomingHttpHeaders, name: string): string[] {
  const v = headers[name.toLowerCase()];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}
