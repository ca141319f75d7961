// The control socket: framed JSON requests in, answers and events out (protocol in @berth/shim-protocol).
// Requests on one connection run concurrently (a pending `wait` must not hold up a `kill`). A connection that
// sends `attach` is handed to the process after the answer and carries raw streams from then on.
import { codeOf, FailedPreconditionError, InvalidArgumentError } from '@berth/errdefs';
import {
  encodeFrame, FrameDecoder, METHODS, PROTOCOL_VERSION, StreamDecoder, STREAM_STDIN,
  type AttachParams, type EventFrame, type Events, type Method, type RequestFrame, type Topic,
} from '@berth/shim-protocol';
import { rmSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from './logger.ts';

/** What the server needs from the shim: answer requests, take attach connections. */
export interface Handler {
  handle(method: Method, params: Record<string, unknown>): Promise<unknown>;
  /** Called after the answer to `attach` was written; the socket now carries raw streams. */
  attach(socket: net.Socket, params: AttachParams, stdin: { write(data: Buffer): void; close(): void }): void;
  /** Checks an attach request before it is answered (throws if the process cannot be attached). */
  checkAttach(params: AttachParams): { write(data: Buffer): void; close(): void };
  /** Called after each answer has been written (the shim exits after a task delete). */
  afterResponse(method: Method): void;
}

class Connection {
  readonly socket: net.Socket;
  events = false;
  greeted = false;
  switched = false;
  readonly decoder = new FrameDecoder();

  constructor(socket: net.Socket) {
    this.socket = socket;
  }
}

export class ControlServer {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly handler: Handler;
  private readonly log: Logger;
  socketPath: string;

  constructor(socketPath: string, handler: Handler, log: Logger) {
    this.socketPath = socketPath;
    this.handler = handler;
    this.log = log;
    this.server = net.createServer((s) => this.accept(s));
  }

  async listen(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  publish<T extends Topic>(topic: T, data: Events[T]): void {
    const frame = encodeFrame({ t: 'evt', topic, data } satisfies EventFrame<T>);
    for (const c of this.connections) if (c.events && !c.switched && !c.socket.destroyed) c.socket.write(frame);
  }

  /** Stops listening, removes the socket file and ends every connection (after what was written is flushed). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
    for (const c of this.connections) {
      c.socket.end();
      setTimeout(() => c.socket.destroy(), 500).unref();
    }
    await closed;
  }

  private accept(socket: net.Socket): void {
    const c = new Connection(socket);
    this.connections.add(c);
    socket.on('error', () => {});
    socket.on('close', () => this.connections.delete(c));
    socket.on('data', (chunk: Buffer) => {
      if (c.switched) return;
      let frames: unknown[];
      try {
        frames = c.decoder.push(chunk);
      } catch (err) {
        this.log.warn({ err }, 'bad frame from client; closing the connection');
        socket.destroy();
        return;
      }
      for (const f of frames) {
        if (c.switched) break;
        void this.request(c, f as RequestFrame);
      }
    });
  }

  private async request(c: Connection, f: RequestFrame): Promise<void> {
    const id = typeof f?.id === 'number' ? f.id : 0;
    const reply = (body: { result: unknown } | { error: { code: string; message: string } }, after?: () => void) => {
      if (c.socket.destroyed) return;
      c.socket.write(encodeFrame({ t: 'res', id, ...body }), () => after?.());
    };
    const method = f?.method;
    try {
      if (f?.t !== 'req' || !METHODS.includes(method)) throw new InvalidArgumentError(`unknown method ${JSON.stringify(method)}`);
      const params = (f.params ?? {}) as Record<string, unknown>;
      if (method === 'hello') {
        const version = params.version;
        if (version !== PROTOCOL_VERSION) {
          throw new FailedPreconditionError(`shim protocol version ${String(version)} is not supported (this shim speaks ${PROTOCOL_VERSION})`);
        }
        c.greeted = true;
        c.events = params.events === true;
      } else if (!c.greeted) {
        throw new FailedPreconditionError(`${method}: say hello first`);
      }
      if (method === 'attach') {
        const stdin = this.handler.checkAttach(params as AttachParams);
        c.switched = true;
        const rest = c.decoder.rest();
        reply({ result: {} });
        this.switchToStreams(c, params as AttachParams, stdin, rest);
        return;
      }
      const result = await this.handler.handle(method, params);
      reply({ result: result ?? {} }, () => this.handler.afterResponse(method));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (codeOf(err) === 'internal') this.log.error({ err, method }, 'request failed');
      reply({ error: { code: codeOf(err), message } });
    }
  }

  private switchToStreams(c: Connection, p: AttachParams, stdin: { write(data: Buffer): void; close(): void }, rest: Buffer): void {
    const streams = new StreamDecoder();
    const onData = (chunk: Buffer) => {
      for (const f of streams.push(chunk)) {
        if (f.stream !== STREAM_STDIN || !p.stdin) continue;
        if (f.data.length === 0) stdin.close();
        else stdin.write(f.data);
      }
    };
    c.socket.on('data', onData);
    if (rest.length > 0) onData(rest);
    this.handler.attach(c.socket, p, stdin);
  }
}
