// A small HTTP/1.1 client over one socket at a time (unix, TCP or TLS). Node's own `http` client would do,
// but loading it costs the CLI more than the whole request (its ESM facade pulls in undici), and the Engine
// API needs what it handles awkwardly anyway: connection upgrades (`101 UPGRADED`) that hand back the raw
// socket with the bytes already read, half-closed hijacked streams, and long chunked bodies.
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import type { HostAddress } from './host.ts';

export interface TlsOptions {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  /** Verify the daemon's certificate against `ca` (docker's --tlsverify). */
  verify?: boolean;
}

export type RequestBody = Buffer | string | Readable | AsyncIterable<Uint8Array>;

export interface HttpRequest {
  method: string;
  /** Path and query, already encoded. */
  path: string;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Ask for a hijacked connection (`Connection: Upgrade`, `Upgrade: tcp`). */
  upgrade?: boolean;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The response body (ends at once for HEAD, 1xx, 204 and 304). */
  body: Readable;
  /** For an upgraded connection (101, or an `upgrade` request answered with a raw stream): the socket itself. */
  socket?: Duplex;
}

/** The daemon could not be reached at all (nothing listening, no such socket, permission denied). */
export class ConnectError extends Error {
  readonly host: string;
  readonly errno: string | undefined;
  constructor(host: string, cause: unknown) {
    const errno = (cause as { code?: string } | null)?.code;
    super(`connect to ${host}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ConnectError';
    this.host = host;
    this.errno = errno;
  }
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 256 * 1024;

/** Opens sockets to one daemon address and runs requests over them, keeping one idle socket for reuse. */
export class Transport {
  readonly address: HostAddress;
  private readonly tls: TlsOptions | undefined;
  private idle: Socket[] = [];

  constructor(address: HostAddress, tls?: TlsOptions) {
    this.address = address;
    this.tls = tls;
  }

  /** Closes idle sockets; requests in flight are unaffected. */
  close(): void {
    for (const s of this.idle) s.destroy();
    this.idle = [];
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    req.signal?.throwIfAborted();
    // A streamed body cannot be replayed, so it never goes out on a socket that may turn out to be stale.
    const replayable = req.body === undefined || typeof req.body === 'string' || Buffer.isBuffer(req.body);
    const reused = replayable ? this.idle.pop() : undefined;
    if (reused) {
      try {
        return await this.exchange(reused, req);
      } catch (err) {
        // The daemon may have closed an idle keep-alive socket; retry once on a fresh one if nothing came back.
        if (!(err instanceof StaleSocketError)) throw err;
      }
    }
    return this.exchange(await this.connect(), req);
  }

  private async connect(): Promise<Socket> {
    const a = this.address;
    return new Promise<Socket>((resolve, reject) => {
      let socket: Socket;
      const onError = (err: Error) => reject(new ConnectError(a.url, err));
      if (a.kind === 'unix') {
        const net = process.getBuiltinModule('node:net');
        socket = net.connect({ path: a.path });
        socket.once('connect', () => resolve(socket));
      } else if (a.tls) {
        const tls = process.getBuiltinModule('node:tls');
        const t = this.tls ?? {};
        const verify = t.verify ?? false;
        socket = tls.connect({
          host: a.hostname, port: a.port, ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: verify,
          servername: /^[\d.:]+$/.test(a.hostname) ? undefined : a.hostname,
        });
        socket.once('secureConnect', () => resolve(socket));
      } else {
        const net = process.getBuiltinModule('node:net');
        socket = net.connect({ host: a.hostname, port: a.port });
        socket.once('connect', () => resolve(socket));
      }
      socket.once('error', onError);
    }).then((socket) => {
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      return socket;
    });
  }

  private exchange(socket: Socket, req: HttpRequest): Promise<HttpResponse> {
    socket.ref();
    const hostHeader = this.address.kind === 'unix' ? 'api.moby.localhost' : `${this.address.hostname}:${this.address.port}`;
    const headers: Record<string, string> = { Host: hostHeader, ...req.headers };
    const body = req.body;
    let fixed: Buffer | undefined;
    if (body === undefined) {
      if (req.method === 'POST' || req.method === 'PUT') headers['Content-Length'] = '0';
    } else if (typeof body === 'string' || Buffer.isBuffer(body)) {
      fixed = typeof body === 'string' ? Buffer.from(body) : body;
      headers['Content-Length'] = String(fixed.length);
    } else {
      headers['Transfer-Encoding'] = 'chunked';
    }
    if (req.upgrade) {
      headers.Connection = 'Upgrade';
      headers.Upgrade = 'tcp';
    }
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    head += '\r\n';

    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      let gotBytes = false;
      let buffered: Buffer[] = [];
      let bufferedLen = 0;
      let requestDone = body === undefined || fixed !== undefined;
      let bodyStream: Readable | undefined;
      let decoder: BodyDecoder | undefined;
      let keepAlive = true;

      const fail = (err: Error) => {
        cleanup();
        socket.destroy();
        if (!settled) {
          settled = true;
          reject(gotBytes ? err : new StaleSocketError(err.message));
        } else if (bodyStream && !bodyStream.destroyed) {
          bodyStream.destroy(err);
        }
      };
      const onAbort = () => fail(req.signal!.reason instanceof Error ? req.signal!.reason : new Error('request aborted'));
      const onClose = () => {
        if (decoder) {
          if (decoder.untilClose) {
            finishBody(false);
          } else if (!decoder.done) {
            fail(new Error(`${req.method} ${req.path}: connection closed before the response body ended`));
          }
        } else if (!settled) {
          fail(new Error(`${req.method} ${req.path}: connection closed before a response arrived`));
        }
      };
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('error', fail);
        socket.off('close', onClose);
        socket.off('end', onClose);
        req.signal?.removeEventListener('abort', onAbort);
      };
      const finishBody = (reusable: boolean) => {
        cleanup();
        bodyStream?.push(null);
        if (reusable && keepAlive && requestDone && !socket.destroyed) {
          socket.unref();
          this.idle.push(socket);
        } else {
          socket.destroy();
        }
      };

      const onData = (chunk: Buffer) => {
        gotBytes = true;
        if (decoder) {
          feedBody(chunk);
          return;
        }
        buffered.push(chunk);
        bufferedLen += chunk.length;
        const all = buffered.length === 1 ? buffered[0]! : Buffer.concat(buffered, bufferedLen);
        buffered = [all];
        const end = all.indexOf(HEAD_END);
        if (end < 0) {
          if (bufferedLen > MAX_HEAD) fail(new Error(`${req.method} ${req.path}: response head too large`));
          return;
        }
        const parsed = parseHead(all.subarray(0, end).toString('latin1'));
        if (!parsed) {
          fail(new Error(`${req.method} ${req.path}: malformed response from the daemon`));
          return;
        }
        const rest = all.subarray(end + 4);
        buffered = [];
        if (parsed.status === 100) {
          if (rest.length) onData(rest);
          return;
        }
        keepAlive = (parsed.headers.connection ?? '').toLowerCase() !== 'close';
        const upgraded = parsed.status === 101
          || (req.upgrade === true && parsed.status < 300 && parsed.headers['content-length'] === undefined
            && parsed.headers['transfer-encoding'] === undefined);
        settled = true;
        if (upgraded) {
          cleanup();
          socket.pause();
          if (rest.length) socket.unshift(rest);
          resolve({ ...parsed, body: Readable.from([]), socket });
          return;
        }
        bodyStream = new Readable({ read: () => socket.resume() });
        const noBody = req.method === 'HEAD' || parsed.status === 204 || parsed.status === 304 || parsed.status < 200;
        decoder = noBody ? new FixedDecoder(0) : makeDecoder(parsed.headers);
        resolve({ ...parsed, body: bodyStream });
        feedBody(rest);
      };
      const feedBody = (chunk: Buffer) => {
        const d = decoder!;
        if (chunk.length) {
          let ok = true;
          try {
            for (const piece of d.feed(chunk)) ok = bodyStream!.push(piece) && ok;
          } catch (err) {
            fail(err as Error);
            return;
          }
          if (!ok) socket.pause();
        }
        if (d.done) finishBody(true);
      };

      socket.on('data', onData);
      socket.on('error', fail);
      socket.on('close', onClose);
      socket.on('end', onClose);
      req.signal?.addEventListener('abort', onAbort, { once: true });
      socket.resume();

      socket.write(fixed && fixed.length <= 64 * 1024 ? Buffer.concat([Buffer.from(head, 'latin1'), fixed]) : head);
      if (fixed && fixed.length > 64 * 1024) socket.write(fixed);
      if (body !== undefined && fixed === undefined) {
        void writeChunked(socket, body as Readable | AsyncIterable<Uint8Array>).then(
          () => { requestDone = true; },
          (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
        );
      }
    });
  }
}

class StaleSocketError extends Error {}

async function writeChunked(socket: Socket, body: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const piece of body) {
    if (socket.destroyed) return;
    const buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
    if (buf.length === 0) continue;
    const ok = socket.write(Buffer.concat([Buffer.from(`${buf.length.toString(16)}\r\n`), buf, CRLF]));
    if (!ok) {
      await new Promise<void>((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
  }
  if (!socket.destroyed) socket.write('0\r\n\r\n');
}

function parseHead(text: string): { status: number; statusText: string; headers: Record<string, string> } | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  return { status: Number(m[1]), statusText: m[2] ?? '', headers };
}

interface BodyDecoder {
  done: boolean;
  untilClose: boolean;
  feed(chunk: Buffer): Buffer[];
}

function makeDecoder(headers: Record<string, string>): BodyDecoder {
  if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) return new ChunkedDecoder();
  const len = headers['content-length'];
  if (len !== undefined) return new FixedDecoder(Number(len));
  return new UntilCloseDecoder();
}

class FixedDecoder implements BodyDecoder {
  done: boolean;
  readonly untilClose = false;
  private left: number;
  constructor(length: number) {
    this.left = length;
    this.done = length === 0;
  }

  feed(chunk: Buffer): Buffer[] {
    if (this.done) return [];
    const piece = chunk.length > this.left ? chunk.subarray(0, this.left) : chunk;
    this.left -= piece.length;
    this.done = this.left === 0;
    return [piece];
  }
}

class UntilCloseDecoder implements BodyDecoder {
  done = false;
  readonly untilClose = true;
  feed(chunk: Buffer): Buffer[] {
    return [chunk];
  }
}

/** Decodes `Transfer-Encoding: chunked` incrementally, without concatenating the payload. */
class ChunkedDecoder implements BodyDecoder {
  done = false;
  readonly untilClose = false;
  private state: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  private left = 0;
  private line = '';

  feed(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length && !this.done) {
      switch (this.state) {
        case 'size':
        case 'data-crlf':
        case 'trailer': {
          const nl = chunk.indexOf(10, i);
          const end = nl < 0 ? chunk.length : nl;
          this.line += chunk.toString('latin1', i, end);
          i = nl < 0 ? chunk.length : nl + 1;
          if (nl < 0) break;
          const line = this.line.replace(/\r$/, '');
          this.line = '';
          if (this.state === 'data-crlf') {
            this.state = 'size';
          } else if (this.state === 'trailer') {
            if (line === '') this.done = true;
          } else {
            const size = parseInt(line.split(';')[0]!, 16);
            if (Number.isNaN(size)) throw new Error(`malformed chunk size ${JSON.stringify(line)}`);
            if (size === 0) {
              this.state = 'trailer';
            } else {
              this.left = size;
              this.state = 'data';
            }
          }
          break;
        }
        case 'data': {
          const n = Math.min(this.left, chunk.length - i);
          out.push(chunk.subarray(i, i + n));
          i += n;
          this.left -= n;
          if (this.left === 0) this.state = 'data-crlf';
          break;
        }
      }
    }
    return out;
  }
}
