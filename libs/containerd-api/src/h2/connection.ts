// The server side of one HTTP/2 connection (RFC 9113) over a socket, as much as gRPC needs: client-initiated
// streams, header blocks (HEADERS + CONTINUATION, HPACK), DATA both ways under flow control, SETTINGS, PING,
// RST_STREAM, WINDOW_UPDATE and GOAWAY. No server push, no priorities (PRIORITY is read and ignored), no
// upgrade from HTTP/1.1: the client starts with the connection preface, as gRPC clients do.
//
// Why not node:http2: a unary gRPC call through it cost ~0.25 ms of the event loop (stream objects, Duplex
// machinery, header objects through nghttp2's callbacks), about 11 ms of runtimed's time per `ctr run`, which makes
// ~45 calls in sequence. Frames here are parsed from the socket's chunks directly, and everything a turn of the
// event loop produces (a response's HEADERS, DATA and trailers; SETTINGS and PING acknowledgements) leaves in
// one write.
import type net from 'node:net';
import { HpackDecoder, HpackError } from './hpack.ts';

const FrameType = {
  DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9,
};
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

export const H2Error = {
  NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, STREAM_CLOSED: 5, FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 11,
};
const Setting = { HEADER_TABLE_SIZE: 1, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5 };

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
/** Largest frame payload we accept (the protocol's default; we do not advertise more). */
const MAX_FRAME = 16_384;
/** Our receive window per stream (advertised in SETTINGS) and for the connection (raised at the start). */
const STREAM_RECV_WINDOW = 1 << 20;
const CONN_RECV_WINDOW = 16 << 20;
/** A header block larger than this ends the connection (ENHANCE_YOUR_CALM). */
const MAX_HEADER_BLOCK = 1 << 20;
/** Bytes queued on a stream beyond which write() asks its caller to wait for the drain. */
const STREAM_HIGH_WATER = 64 * 1024;

class ConnectionError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** One request stream: its headers, its DATA as it comes, and the answer. */
export class H2Stream {
  readonly id: number;
  /** Request headers by (lower-case) name; a repeated name gives an array. */
  readonly headers: Record<string, string | string[]>;
  /** Set by whoever handles the stream: request DATA, the request's end, the stream's close (any reason). */
  onData: (chunk: Buffer) => void = () => {};
  onEnd: () => void = () => {};
  onClose: () => void = () => {};

  private readonly conn: H2Connection;
  /** @internal */ sendWindow: number;
  /** @internal */ recvUnacked = 0;
  /** @internal */ queue: Buffer[] = [];
  /** @internal */ queuedBytes = 0;
  /** @internal */ trailers: Buffer | undefined;
  /** @internal */ remoteEnded = false;
  /** @internal */ localEnded = false;
  /** @internal */ paused = false;
  private closedFlag = false;
  private drainWaiters: Array<() => void> = [];

  constructor(conn: H2Connection, id: number, headers: Record<string, string | string[]>, sendWindow: number) {
    this.conn = conn;
    this.id = id;
    this.headers = headers;
    this.sendWindow = sendWindow;
  }

  /** Closed: both sides ended, reset by either, or the connection is gone. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Sends the response headers (a block from hpack.ts's encodeHeaders: a constant one is encoded once);
   * `endStream` makes them the whole answer (a trailers-only gRPC response).
   */
  respond(block: Buffer, endStream: boolean): void {
    if (this.closedFlag || this.localEnded) return;
    this.conn.sendHeaders(this, block, endStream);
  }

  /** Queues DATA; false when the caller should wait for waitDrain() before writing more. */
  write(data: Buffer): boolean {
    if (this.closedFlag || this.localEnded || this.trailers) return true;
    this.queue.push(data);
    this.queuedBytes += data.length;
    this.conn.flushStream(this);
    return this.queuedBytes < STREAM_HIGH_WATER;
  }

  /** Resolves once the queue is below its high-water mark again, or the stream is closed. */
  waitDrain(): Promise<void> {
    if (this.closedFlag || this.queuedBytes < STREAM_HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Ends the answer with trailers (an encoded block, as for respond), after whatever DATA is still queued. */
  end(block: Buffer): void {
    if (this.closedFlag || this.localEnded || this.trailers) return;
    this.trailers = block;
    this.conn.flushStream(this);
  }

  /** Stops granting the client window for this stream (back-pressure) until resume(). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.conn.ackStreamData(this);
  }

  /** Resets the stream (RST_STREAM) and closes it. */
  reset(code: number = H2Error.CANCEL): void {
    if (this.closedFlag) return;
    this.conn.resetStream(this, code);
  }

  /** @internal */
  drained(): void {
    if (this.queuedBytes >= STREAM_HIGH_WATER && !this.closedFlag) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  /** @internal */
  markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.drained();
    this.onClose();
  }
}

export interface H2ConnectionHandlers {
  /** A new request stream with its headers (its DATA and end come through the stream's callbacks after this). */
  onStream(stream: H2Stream): void;
  /** The connection has closed (the socket is gone). */
  onClose(): void;
}

export class H2Connection {
  private readonly socket: net.Socket;
  private readonly handlers: H2ConnectionHandlers;
  private readonly streams = new Map<number, H2Stream>();
  /** Streams whose queued DATA waits for window. */
  private readonly blocked = new Set<H2Stream>();
  private readonly decoder = new HpackDecoder();
  private input: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  private pendingHeaders: { streamId: number; endStream: boolean; parts: Buffer[]; size: number } | undefined;
  private lastStreamId = 0;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = 16_384;
  private connSendWindow = DEFAULT_WINDOW;
  private connRecvUnacked = 0;
  private output: Buffer[] = [];
  private flushScheduled = false;
  private goingAway = false;
  private closed = false;

  constructor(socket: net.Socket, handlers: H2ConnectionHandlers) {
    this.socket = socket;
    this.handlers = handlers;
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 0);
    settings.writeUInt32BE(STREAM_RECV_WINDOW, 2);
    this.frame(FrameType.SETTINGS, 0, 0, settings);
    this.windowUpdate(0, CONN_RECV_WINDOW - DEFAULT_WINDOW);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.teardown());
  }

  /** Stops taking new streams (GOAWAY); the socket ends once the streams in flight have closed. */
  goAway(): void {
    if (this.goingAway || this.closed) return;
    this.goingAway = true;
    this.sendGoAway(H2Error.NO_ERROR);
    if (this.streams.size === 0) this.endSocket();
  }

  /** Cuts the connection at once. */
  destroy(): void {
    this.socket.destroy();
    this.teardown();
  }

  // ---- input ----

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    let buf = this.input.length > 0 ? Buffer.concat([this.input, chunk]) : chunk;
    try {
      if (!this.prefaceSeen) {
        if (buf.length < PREFACE.length) {
          if (!PREFACE.subarray(0, buf.length).equals(buf)) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'not an HTTP/2 connection preface');
          this.input = buf;
          return;
        }
        if (!buf.subarray(0, PREFACE.length).equals(PREFACE)) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'not an HTTP/2 connection preface');
        this.prefaceSeen = true;
        buf = buf.subarray(PREFACE.length);
      }
      let pos = 0;
      while (buf.length - pos >= 9) {
        const len = buf.readUIntBE(pos, 3);
        if (len > MAX_FRAME) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `frame of ${len} bytes`);
        if (buf.length - pos < 9 + len) break;
        const type = buf[pos + 3]!;
        const flags = buf[pos + 4]!;
        const streamId = buf.readUInt32BE(pos + 5) & 0x7fffffff;
        const payload = buf.subarray(pos + 9, pos + 9 + len);
        pos += 9 + len;
        this.handleFrame(type, flags, streamId, payload);
        if (this.closed) return;
      }
      // A partial frame: kept (copied when small, so a large chunk is not held for its tail).
      const rest = buf.subarray(pos);
      this.input = rest.length > 0 && rest.length < 4096 ? Buffer.from(rest) : rest;
    } catch (err) {
      if (err instanceof ConnectionError) this.connectionError(err.code);
      else this.connectionError(err instanceof HpackError ? H2Error.COMPRESSION_ERROR : H2Error.INTERNAL_ERROR);
    }
  }

  private handleFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.pendingHeaders && (type !== FrameType.CONTINUATION || streamId !== this.pendingHeaders.streamId)) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'expected CONTINUATION');
    }
    switch (type) {
      case FrameType.DATA: return this.onDataFrame(flags, streamId, payload);
      case FrameType.HEADERS: return this.onHeadersFrame(flags, streamId, payload);
      case FrameType.CONTINUATION: return this.onContinuation(flags, streamId, payload);
      case FrameType.PRIORITY:
        if (streamId === 0 || payload.length !== 5) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad PRIORITY');
        return;
      case FrameType.RST_STREAM: {
        if (streamId === 0 || payload.length !== 4) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad RST_STREAM');
        if (streamId > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on an idle stream');
        const s = this.streams.get(streamId);
        if (s) this.closeStream(s);
        return;
      }
      case FrameType.SETTINGS: return this.onSettings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE: throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.PING:
        if (streamId !== 0 || payload.length !== 8) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad PING');
        if (!(flags & ACK)) this.frame(FrameType.PING, ACK, 0, Buffer.from(payload));
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad GOAWAY');
        return; // the client closes the connection when it is done
      case FrameType.WINDOW_UPDATE: return this.onWindowUpdate(streamId, payload);
      default: return; // unknown frame types are ignored
    }
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on stream 0');
    if (streamId > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on an idle stream');
    // The connection window is granted back as the frames arrive (streams are held back by their own windows).
    this.connRecvUnacked += payload.length;
    if (this.connRecvUnacked >= CONN_RECV_WINDOW / 4) {
      this.windowUpdate(0, this.connRecvUnacked);
      this.connRecvUnacked = 0;
    }
    let data = payload;
    if (flags & PADDED) {
      const pad = payload[0] ?? 0;
      if (payload.length === 0 || pad >= payload.length) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad DATA padding');
      data = payload.subarray(1, payload.length - pad);
    }
    const s = this.streams.get(streamId);
    if (!s) return; // a stream closed meanwhile (we answered or reset it): what was in flight is dropped
    if (s.remoteEnded) {
      this.resetStream(s, H2Error.STREAM_CLOSED);
      return;
    }
    s.recvUnacked += payload.length;
    if (s.recvUnacked > STREAM_RECV_WINDOW) {
      this.resetStream(s, H2Error.FLOW_CONTROL_ERROR);
      return;
    }
    if (data.length > 0) s.onData(data);
    if (flags & END_STREAM) this.remoteEnd(s);
    else this.ackStreamData(s);
  }

  private onHeadersFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS on stream ${streamId}`);
    let start = 0;
    let end = payload.length;
    if (flags & PADDED) {
      const pad = payload[0] ?? 0;
      start = 1;
      end -= pad;
    }
    if (flags & PRIORITY) start += 5;
    if (start > end) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad HEADERS padding');
    const fragment = payload.subarray(start, end);
    if (flags & END_HEADERS) return this.headerBlock(streamId, (flags & END_STREAM) !== 0, fragment);
    this.pendingHeaders = { streamId, endStream: (flags & END_STREAM) !== 0, parts: [Buffer.from(fragment)], size: fragment.length };
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const p = this.pendingHeaders;
    if (!p || p.streamId !== streamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    p.parts.push(Buffer.from(payload));
    p.size += payload.length;
    if (p.size > MAX_HEADER_BLOCK) throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, 'header block too large');
    if (!(flags & END_HEADERS)) return;
    this.pendingHeaders = undefined;
    this.headerBlock(streamId, p.endStream, Buffer.concat(p.parts));
  }

  private headerBlock(streamId: number, endStream: boolean, block: Buffer): void {
    const fields = this.decoder.decode(block); // always: the decoder's table must follow every block
    const existing = this.streams.get(streamId);
    if (existing) {
      // Trailers from the client: they must end its side.
      if (!endStream || existing.remoteEnded) return this.resetStream(existing, H2Error.PROTOCOL_ERROR);
      return this.remoteEnd(existing);
    }
    // A stream we have closed (answered early, or reset): what the client sent before it knew is ignored.
    if (streamId <= this.lastStreamId) return;
    this.lastStreamId = streamId;
    if (this.goingAway) {
      this.frame(FrameType.RST_STREAM, 0, streamId, u32(H2Error.REFUSED_STREAM));
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of fields) {
      const had = headers[name];
      if (had === undefined) headers[name] = value;
      else if (Array.isArray(had)) had.push(value);
      else headers[name] = [had, value];
    }
    const s = new H2Stream(this, streamId, headers, this.peerInitialWindow);
    this.streams.set(streamId, s);
    this.handlers.onStream(s);
    if (endStream) this.remoteEnd(s);
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & ACK) {
      if (payload.length !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS ack with a payload');
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'bad SETTINGS length');
    for (let i = 0; i < payload.length; i += 6) {
      const id = payload.readUInt16BE(i);
      const value = payload.readUInt32BE(i + 2);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'initial window too large');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < 16_384 || value > 16_777_215) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad max frame size');
        this.peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE: our encoder never indexes. Others (push, concurrency, header list size) do not apply.
    }
    this.frame(FrameType.SETTINGS, ACK, 0, Buffer.alloc(0));
    for (const s of [...this.blocked]) this.flushStream(s);
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'bad WINDOW_UPDATE');
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (inc === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window overflow');
      for (const s of [...this.blocked]) this.flushStream(s);
      return;
    }
    const s = this.streams.get(streamId);
    if (!s) return;
    if (inc === 0) return this.resetStream(s, H2Error.PROTOCOL_ERROR);
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return this.resetStream(s, H2Error.FLOW_CONTROL_ERROR);
    this.flushStream(s);
  }

  private remoteEnd(s: H2Stream): void {
    s.remoteEnded = true;
    s.onEnd();
    if (s.localEnded) this.closeStream(s);
  }

  // ---- output ----

  /** @internal Grants the client window for what a stream has taken (not while it is paused). */
  ackStreamData(s: H2Stream): void {
    if (s.paused || s.remoteEnded || s.closed || s.recvUnacked < STREAM_RECV_WINDOW / 2) return;
    this.windowUpdate(s.id, s.recvUnacked);
    s.recvUnacked = 0;
  }

  /** @internal */
  sendHeaders(s: H2Stream, block: Buffer, endStream: boolean): void {
    let flags = endStream ? END_STREAM : 0;
    if (block.length <= this.peerMaxFrame) {
      this.frame(FrameType.HEADERS, flags | END_HEADERS, s.id, block);
    } else {
      this.frame(FrameType.HEADERS, flags, s.id, block.subarray(0, this.peerMaxFrame));
      for (let off = this.peerMaxFrame; off < block.length; off += this.peerMaxFrame) {
        flags = off + this.peerMaxFrame >= block.length ? END_HEADERS : 0;
        this.frame(FrameType.CONTINUATION, flags, s.id, block.subarray(off, off + this.peerMaxFrame));
      }
    }
    if (endStream) this.localEnd(s);
  }

  /** @internal Sends what the windows allow of a stream's queued DATA, then its trailers once the queue is empty. */
  flushStream(s: H2Stream): void {
    if (s.closed) return;
    while (s.queue.length > 0) {
      const head = s.queue[0]!;
      const n = Math.min(head.length, s.sendWindow, this.connSendWindow, this.peerMaxFrame);
      if (n <= 0) {
        this.blocked.add(s);
        s.drained();
        return;
      }
      this.frame(FrameType.DATA, 0, s.id, n === head.length ? head : head.subarray(0, n));
      s.sendWindow -= n;
      this.connSendWindow -= n;
      s.queuedBytes -= n;
      if (n === head.length) s.queue.shift();
      else s.queue[0] = head.subarray(n);
    }
    this.blocked.delete(s);
    if (s.trailers) {
      const t = s.trailers;
      s.trailers = undefined;
      this.sendHeaders(s, t, true);
      return;
    }
    s.drained();
  }

  /** @internal */
  resetStream(s: H2Stream, code: number): void {
    this.frame(FrameType.RST_STREAM, 0, s.id, u32(code));
    this.closeStream(s);
  }

  /** Our side has ended: the stream closes, and a client still sending is told to stop (RST_STREAM NO_ERROR). */
  private localEnd(s: H2Stream): void {
    s.localEnded = true;
    if (!s.remoteEnded) this.frame(FrameType.RST_STREAM, 0, s.id, u32(H2Error.NO_ERROR));
    this.closeStream(s);
  }

  private closeStream(s: H2Stream): void {
    if (!this.streams.delete(s.id)) return;
    this.blocked.delete(s);
    s.markClosed();
    if (this.goingAway && this.streams.size === 0) this.endSocket();
  }

  private windowUpdate(streamId: number, inc: number): void {
    this.frame(FrameType.WINDOW_UPDATE, 0, streamId, u32(inc));
  }

  private sendGoAway(code: number): void {
    const p = Buffer.alloc(8);
    p.writeUInt32BE(this.lastStreamId, 0);
    p.writeUInt32BE(code, 4);
    this.frame(FrameType.GOAWAY, 0, 0, p);
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.closed) return;
    const h = Buffer.allocUnsafe(9);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(streamId, 5);
    this.output.push(h);
    if (payload.length > 0) this.output.push(payload);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushOutput());
    }
  }

  private flushOutput(): void {
    this.flushScheduled = false;
    if (this.output.length === 0 || this.closed || this.socket.destroyed) {
      this.output = [];
      return;
    }
    const out = this.output.length === 1 ? this.output[0]! : Buffer.concat(this.output);
    this.output = [];
    this.socket.write(out);
  }

  private endSocket(): void {
    this.flushOutput();
    this.socket.end();
  }

  private connectionError(code: number): void {
    if (this.closed) return;
    this.sendGoAway(code);
    this.flushOutput();
    this.socket.end();
    this.teardown();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    this.output = [];
    for (const s of [...this.streams.values()]) this.closeStream(s);
    this.handlers.onClose();
  }
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}
