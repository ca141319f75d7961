/**
 * A gRPC server for the three call shapes runtimed serves (unary, server streaming, bidi) on this library's own
 * HTTP/2 (h2/connection.ts), without @grpc/grpc-js's server machinery (interceptor chains, channelz, per-call
 * objects) or node:http2's stream objects: grpc-js cost 0.37–0.40 ms of CPU per unary call, node:http2 alone
 * ~0.25, and a `ctr run` makes ~45 calls in sequence. The wire format is gRPC over HTTP/2 as the spec has it:
 * requests are POSTs to `/<service>/<method>` with `content-type: application/grpc…`, each message a 5-byte prefix
 * (compressed flag, big-endian length) and its bytes; responses are HEADERS, DATA, then trailers with
 * `grpc-status` and `grpc-message`, or a trailers-only HEADERS frame for a call that fails before its first
 * message (as containerd sends errors). Compression is not offered (no client here asks for it); a compressed
 * message is refused with UNIMPLEMENTED.
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import { GrpcStatus } from '@berth/errdefs';
import { H2Connection, H2Error, type H2Stream } from './h2/connection.ts';
import { encodeHeaders } from './h2/hpack.ts';

/** Request headers by lower-case name (pseudo-headers included); a repeated name gives an array. */
export type RequestHeaders = Record<string, string | string[]>;

const RESPONSE_HEADERS: ReadonlyArray<readonly [string, string]> = [[':status', '200'], ['content-type', 'application/grpc+proto']];
/** The header blocks every successful call sends, encoded once. */
const RESPONSE_BLOCK = encodeHeaders(RESPONSE_HEADERS);
const OK_TRAILERS_BLOCK = encodeHeaders([['grpc-status', String(GrpcStatus.OK)]]);

/** What a registered method does with a call. */
export interface MethodEntry {
  requestStream: boolean;
  responseStream: boolean;
  deserialize(data: Buffer): unknown;
  serialize(msg: unknown): Buffer;
  /** Called once per call: unary and server streaming once the request has arrived, bidi at once. */
  handle(call: GrpcCall): void;
}

export interface GrpcServerOptions {
  /** Largest message either way (containerd's 16 MiB). */
  maxMessageBytes: number;
}

/** The status a call ends with when a handler fails (codes are gRPC's). */
export interface CallStatus { code: number; details: string }

/** grpc-message: percent-encoded outside printable ASCII (and '%' itself), as the gRPC spec asks. */
function encodeMessage(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** grpc-timeout: an integer and a unit (H M S m u n); undefined when absent or malformed. */
function timeoutMs(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const scale = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 }[m[2] as 'H' | 'M' | 'S' | 'm' | 'u' | 'n'];
  return n * scale;
}

/** One call: its request messages, its metadata (the request headers) and its answer. */
export class GrpcCall {
  readonly path: string;
  readonly headers: RequestHeaders;
  /**
   * Request messages, decoded, as they come: for methods with a request stream (bidi). Unary and server
   * streaming methods get theirs at once from onRequests (no stream object per call).
   */
  readonly requests: Readable | undefined;
  private readonly collected: unknown[] = [];
  private onCollected: ((messages: unknown[]) => void) | undefined;
  private readonly stream: H2Stream;
  private readonly entry: MethodEntry;
  private readonly maxBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private headersSent = false;
  private ended = false;
  private cancelledFlag = false;
  private deadline: NodeJS.Timeout | undefined;
  private readonly cancelListeners: Array<() => void> = [];

  constructor(stream: H2Stream, entry: MethodEntry, maxBytes: number) {
    this.stream = stream;
    this.headers = stream.headers;
    this.entry = entry;
    this.maxBytes = maxBytes;
    this.path = String(stream.headers[':path']);
    if (entry.requestStream) this.requests = new Readable({ objectMode: true, read: () => stream.resume() });
    stream.onData = (chunk) => this.onData(chunk);
    stream.onEnd = () => {
      if (this.pendingBytes > 0) this.fail({ code: GrpcStatus.INTERNAL, details: 'incomplete message at the end of the request' });
      if (this.requests) this.requests.push(null);
      else if (!this.ended) this.onCollected?.(this.collected);
    };
    stream.onClose = () => {
      if (!this.ended) this.cancel();
    };
    const t = timeoutMs(stream.headers['grpc-timeout']);
    if (t !== undefined) {
      this.deadline = setTimeout(() => {
        this.fail({ code: GrpcStatus.DEADLINE_EXCEEDED, details: 'deadline exceeded' });
        this.cancel();
      }, t);
      this.deadline.unref();
    }
  }

  /** Calls `fn` with every request message once the request has ended (methods without a request stream). */
  onRequests(fn: (messages: unknown[]) => void): void {
    this.onCollected = fn;
  }

  /** The first value of a metadata key (request headers are lower-cased). */
  metadata(key: string): string | undefined {
    const v = this.headers[key];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v[0] : String(v);
  }

  get cancelled(): boolean {
    return this.cancelledFlag;
  }

  /** Called once if the client cancels, resets the stream or its deadline passes before the call ends. */
  onCancel(listener: () => void): void {
    if (this.cancelledFlag) listener();
    else this.cancelListeners.push(listener);
  }

  private cancel(): void {
    if (this.cancelledFlag) return;
    this.cancelledFlag = true;
    this.ended = true;
    clearTimeout(this.deadline);
    for (const l of this.cancelListeners.splice(0)) l();
    this.requests?.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return; // answered (refused, failed, cancelled): the rest is not read
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= 5) {
      // The prefix from the first chunk(s); the message's chunks are joined once, when all have come (a 1 MiB
      // message arrives in 16 KiB frames: joining at each would copy it ~60 times).
      if (this.pending[0]!.length < 5) this.pending = [Buffer.concat(this.pending)];
      const first = this.pending[0]!;
      const compressed = first[0]!;
      const len = first.readUInt32BE(1);
      if (len > this.maxBytes) {
        this.fail({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: `received message larger than max (${len} vs. ${this.maxBytes})` });
        return;
      }
      if (this.pendingBytes < 5 + len) return;
      const head = this.pending.length === 1 ? first : Buffer.concat(this.pending, this.pendingBytes);
      if (compressed !== 0) {
        this.fail({ code: GrpcStatus.UNIMPLEMENTED, details: 'compressed messages are not supported' });
        return;
      }
      const body = head.subarray(5, 5 + len);
      const rest = head.subarray(5 + len);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      let msg: unknown;
      try {
        msg = this.entry.deserialize(body);
      } catch (err) {
        this.fail({ code: GrpcStatus.INTERNAL, details: `error deserializing request: ${(err as Error).message}` });
        return;
      }
      if (!this.requests) this.collected.push(msg);
      else if (!this.requests.push(msg)) this.stream.pause();
    }
  }

  private frame(msg: unknown): Buffer {
    const body = this.entry.serialize(msg);
    if (body.length > this.maxBytes) {
      throw Object.assign(new Error(`sent message larger than max (${body.length} vs. ${this.maxBytes})`), { grpcCode: GrpcStatus.RESOURCE_EXHAUSTED });
    }
    const out = Buffer.allocUnsafe(5 + body.length);
    out[0] = 0;
    out.writeUInt32BE(body.length, 1);
    out.set(body, 5);
    return out;
  }

  /** Writes one response message; false when the transport's buffer is full (wait for 'drain' with waitDrain). */
  write(msg: unknown): boolean {
    if (this.ended || this.stream.closed) return true; // a reset stream: its close ends the call
    const f = this.frame(msg);
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond(RESPONSE_BLOCK, false);
    }
    return this.stream.write(f);
  }

  waitDrain(): Promise<void> {
    return this.stream.waitDrain();
  }

  /** Ends the call with OK (after any messages written). */
  finish(): void {
    this.end({ code: GrpcStatus.OK, details: '' });
  }

  /** Ends the call with an error status: trailers-only when nothing was sent, else as trailers. */
  fail(status: CallStatus): void {
    this.end(status);
  }

  private end(status: CallStatus): void {
    if (this.ended || this.stream.closed) {
      this.ended = true;
      return;
    }
    this.ended = true;
    clearTimeout(this.deadline);
    const trailers: Array<[string, string]> = [['grpc-status', String(status.code)]];
    if (status.details) trailers.push(['grpc-message', encodeMessage(status.details)]);
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond(encodeHeaders([...RESPONSE_HEADERS, ...trailers]), true);
    } else {
      this.stream.end(status.code === GrpcStatus.OK && !status.details ? OK_TRAILERS_BLOCK : encodeHeaders(trailers));
    }
    // Anything the client still sends is not read.
    this.requests?.destroy();
  }
}

/** The server: registered methods by path, the listening socket and its connections (for shutdown). */
export class GrpcServer {
  private readonly methods = new Map<string, MethodEntry>();
  private readonly connections = new Set<H2Connection>();
  private readonly maxBytes: number;
  private server: net.Server | undefined;

  constructor(opts: GrpcServerOptions) {
    this.maxBytes = opts.maxMessageBytes;
  }

  register(path: string, entry: MethodEntry): void {
    if (this.methods.has(path)) throw new Error(`method ${path} is registered already`);
    this.methods.set(path, entry);
  }

  /** Listens on a unix socket path (the caller deals with stale sockets and modes). */
  listen(socketPath: string): Promise<void> {
    const server = net.createServer((socket) => {
      const conn: H2Connection = new H2Connection(socket, {
        onStream: (stream) => {
          try {
            this.dispatch(stream);
          } catch {
            stream.reset(H2Error.INTERNAL_ERROR); // a bug: never a crash
          }
        },
        onClose: () => this.connections.delete(conn),
      });
      this.connections.add(conn);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  private dispatch(stream: H2Stream): void {
    const ct = String(stream.headers['content-type'] ?? '');
    if (stream.headers[':method'] !== 'POST' || !ct.startsWith('application/grpc')) {
      stream.respond(encodeHeaders([[':status', '415']]), true);
      return;
    }
    const path = String(stream.headers[':path']);
    const entry = this.methods.get(path);
    if (!entry) {
      stream.respond(encodeHeaders([
        ...RESPONSE_HEADERS, ['grpc-status', String(GrpcStatus.UNIMPLEMENTED)], ['grpc-message', encodeMessage(`unknown method ${path}`)],
      ]), true);
      return;
    }
    entry.handle(new GrpcCall(stream, entry, this.maxBytes));
  }

  /**
   * Stops accepting connections and lets calls in flight finish for `graceMs`; then cuts the rest (event
   * subscriptions never end by themselves).
   */
  async shutdown(graceMs: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of this.connections) c.goAway();
    const timer = setTimeout(() => {
      for (const c of this.connections) c.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  }

  /** Cuts every connection at once. */
  forceShutdown(): void {
    this.server?.close();
    for (const c of this.connections) c.destroy();
  }
}
