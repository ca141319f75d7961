/**
 * Hijacked connections for attach and exec start. A client asks for one of two shapes:
 * - upgraded (`Connection: Upgrade`, `Upgrade: tcp`; the docker CLI, docker-py, dockerode with hijack): Node hands
 *   the socket over on the server's `upgrade` event; we answer `101 UPGRADED` and the socket becomes a raw
 *   duplex (client → stdin, server → output). The client may half-close its side (no stdin), so output goes on
 *   until we end it.
 * - plain (dockerode without hijack, curl): a normal request answered `200` with the stream as the body.
 * One handler serves both (`HijackHandler`); fastify routes serve the plain shape, `handleUpgrade` the other.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { errorResponse } from './errors.ts';
import { readJson, type Query } from './query.ts';
import { closeFrame, decodeFrames, encodeFrame, handshakeResponse, OP_BINARY } from './websocket.ts';
import { apiVersionOf, checkVersion, requestedVersion, stripVersion } from './version.ts';

export interface HijackedConn {
  readonly upgraded: boolean;
  /** What the client sends after the response head (stdin); null for plain requests. */
  readonly input: Readable | null;
  /** Starts the response: `101 UPGRADED` (upgraded) or `200 OK` (plain) with this content type. */
  begin(contentType: string): void;
  readonly begun: boolean;
  /** Writes output; resolves once the connection can take more (backpressure). */
  write(data: Buffer): Promise<void>;
  /** Ends the response (and, for upgraded connections, our side of the socket). */
  end(): void;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

export interface HijackRequest {
  params: Record<string, string>;
  query: Query;
  body: unknown;
  apiVersion: string;
  headers: IncomingHttpHeaders;
  log: FastifyBaseLogger;
}

export type HijackHandler = (req: HijackRequest, conn: HijackedConn) => Promise<void>;

interface HijackRoute { method: string; pattern: RegExp; names: string[]; handler: HijackHandler; websocket: boolean }

/** The routes that can be upgraded; each is also registered as a fastify route for the plain shape. */
export class HijackRoutes {
  private readonly routes: HijackRoute[] = [];

  /** `websocket`: the route is upgraded to a websocket (RFC 6455) instead of docker's raw `Upgrade: tcp`. */
  add(method: string, path: string, handler: HijackHandler, opts: { websocket?: boolean } = {}): void {
    const names: string[] = [];
    const source = path.replace(/:([a-zA-Z]+)/g, (_m, n: string) => {
      names.push(n);
      return '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${source}/?$`), names, handler, websocket: opts.websocket === true });
  }

  match(method: string, path: string): { handler: HijackHandler; params: Record<string, string>; websocket: boolean } | undefined {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1]!)));
      return { handler: r.handler, params, websocket: r.websocket };
    }
    return undefined;
  }
}

/** The plain shape, inside a fastify route. */
export async function servePlain(handler: HijackHandler, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const body = await readJson(request);
  const res = reply.raw;
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  let begun = false;
  const conn: HijackedConn = {
    upgraded: false,
    input: null,
    get begun() {
      return begun;
    },
    begin(contentType) {
      begun = true;
      reply.hijack();
      res.writeHead(200, { 'Content-Type': contentType, 'Api-Version': apiVersionOf(request.raw) });
      res.flushHeaders();
    },
    write: (data) => writeWithBackpressure(res, data, ac.signal),
    end() {
      if (!res.writableEnded) res.end();
    },
    signal: ac.signal,
  };
  const req: HijackRequest = {
    params: request.params as Record<string, string>,
    query: request.query as Query,
    body,
    apiVersion: apiVersionOf(request.raw),
    headers: request.headers,
    log: request.log,
  };
  try {
    await handler(req, conn);
  } catch (err) {
    if (!begun) throw err;
    request.log.debug({ err }, 'stream ended with an error');
  }
  if (begun) conn.end();
}

const MAX_UPGRADE_BODY = 1024 * 1024;

/**
 * The upgraded shape: the server's `upgrade` event. Requests for paths that cannot be hijacked get a normal
 * HTTP error response and the connection is closed.
 */
export async function handleUpgrade(
  routes: HijackRoutes, req: IncomingMessage, socket: Duplex, head: Buffer, log: FastifyBaseLogger,
): Promise<void> {
  socket.on('error', (err) => log.debug({ err }, 'hijacked connection error'));
  let begun = false;
  const reqLog = log.child({ reqId: `upgrade-${Math.random().toString(36).slice(2, 8)}` });
  try {
    const url = new URL(stripVersion(req), 'http://localhost');
    checkVersion(requestedVersion(req));
    const match = routes.match(req.method ?? 'GET', url.pathname);
    if (!match) throw new NotFoundError('page not found');
    const body = await readUpgradeBody(req, socket, head);
    const query: Query = {};
    for (const [k, v] of url.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
    }
    const ac = new AbortController();
    socket.on('close', () => ac.abort());
    const apiVersion = apiVersionOf(req);
    const websocket = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (websocket !== match.websocket) throw new InvalidArgumentError(websocket ? 'this endpoint does not speak websocket' : 'a websocket upgrade is required');
    // The websocket shape: the handshake is checked before anything starts; frames in and out.
    const wsHead = websocket ? handshakeResponse(req.headers['sec-websocket-key'] as string | undefined, { 'Api-Version': apiVersion }) : '';
    const conn: HijackedConn = {
      upgraded: true,
      input: websocket ? decodeFrames(socket, Buffer.alloc(0)) : socket,
      get begun() {
        return begun;
      },
      begin(contentType) {
        begun = true;
        socket.write(websocket ? wsHead
          : `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${apiVersion}\r\n\r\n`);
      },
      write: (data) => writeWithBackpressure(socket, websocket ? encodeFrame(OP_BINARY, data) : data, ac.signal),
      end() {
        if (socket.writableEnded) return;
        if (websocket && begun) socket.write(closeFrame());
        socket.end();
      },
      signal: ac.signal,
    };
    reqLog.debug({ method: req.method, url: req.url }, 'upgraded request');
    await match.handler({ params: match.params, query, body, apiVersion, headers: req.headers, log: reqLog }, conn);
    conn.end();
  } catch (err) {
    if (begun) {
      reqLog.debug({ err }, 'hijacked stream ended with an error');
      if (!socket.writableEnded) socket.end();
      return;
    }
    const { status, body } = errorResponse(err);
    if (status >= 500) reqLog.error({ err }, body.message);
    const text = JSON.stringify(body) + '\n';
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n`
      + `Connection: close\r\n\r\n${text}`);
  }
}

/** Reads a Content-Length body that follows an upgrade request's head; what comes after goes back to the socket. */
async function readUpgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<unknown> {
  const len = Number(req.headers['content-length'] ?? 0);
  if (req.headers['transfer-encoding']) throw new InvalidArgumentError('chunked request bodies cannot be upgraded');
  if (!Number.isInteger(len) || len < 0 || len > MAX_UPGRADE_BODY) throw new InvalidArgumentError(`invalid Content-Length ${req.headers['content-length']}`);
  let buf = head;
  while (buf.length < len) {
    const chunk = await new Promise<Buffer | null>((resolve, reject) => {
      const onData = (d: Buffer) => {
        cleanup();
        resolve(d);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const onError = (e: Error) => {
        cleanup();
        reject(e);
      };
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('error', onError);
        socket.pause();
      };
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('error', onError);
      socket.resume();
    });
    if (chunk === null) throw new InvalidArgumentError('the request body ended early');
    buf = Buffer.concat([buf, chunk]);
  }
  const rest = buf.subarray(len);
  if (rest.length > 0) socket.unshift(rest);
  if (len === 0) return undefined;
  const text = buf.subarray(0, len).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InvalidArgumentError(`invalid JSON: ${(err as Error).message}`);
  }
}

type Sink = NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean };

function writeWithBackpressure(stream: Sink, data: Buffer, signal: AbortSignal): Promise<void> {
  if (signal.aborted || stream.destroyed || stream.writableEnded) return Promise.resolve();
  if (stream.write(data)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
