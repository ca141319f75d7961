// ShimClient: one connection to a berth-shim's control socket. Requests are answered out of order (a `wait`
// may stay pending for the life of the task while other calls go through). No reconnection: a closed
// connection fails its pending calls with UnavailableError and emits 'close'; the caller connects again.
import { errorFromCode, FailedPreconditionError, UnavailableError } from '@berth/errdefs';
import type { LinuxResources } from '@berth/oci';
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { encodeStreamFrame, STREAM_EXIT, STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT, StreamDecoder } from './attach.ts';
import { encodeFrame, FrameDecoder } from './framing.ts';
import {
  PROTOCOL_VERSION,
  type AttachParams, type ClaimParams, type ClaimResult, type CreateParams, type DeleteResult, type Events,
  type ExecParams, type ExitStatus, type Frame, type HelloResult, type Method, type Methods, type PidInfo,
  type ProcessState, type Stats,
} from './messages.ts';

export interface ConnectOptions {
  /** Give up connecting after this long (default 5 s). */
  timeoutMs?: number;
  /** Receive 'exit' and 'oom' events on this connection (default true). */
  events?: boolean;
}

/** A process's stdio over an attach connection. */
export interface Attachment {
  stdout: Readable;
  /** Empty with a terminal (its output is stdout). */
  stderr: Readable;
  /** Writes go to the process's stdin; end() closes it. Only when attached with `stdin`. */
  stdin: Writable;
  /** The exit status once the process has exited and its output was sent; undefined if the connection ended first. */
  exit: Promise<ExitStatus | undefined>;
  /** Detaches (the process goes on). */
  close(): void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export interface ShimClientEvents {
  exit: [Events['exit']];
  oom: [Events['oom']];
  load: [Events['load']];
  close: [];
}

export class ShimClient extends EventEmitter<ShimClientEvents> {
  readonly socketPath: string;
  /** The shim's answer to `hello` (its pid, task id, spare or not, status at connect time). */
  info!: HelloResult;
  private readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private failed = false;

  private constructor(socketPath: string, socket: net.Socket) {
    super();
    this.socketPath = socketPath;
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      let frames: unknown[];
      try {
        frames = this.decoder.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      for (const f of frames) this.onFrame(f as Frame);
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new UnavailableError(`shim ${socketPath}: connection closed`)));
  }

  /** Connects and says hello; rejects with UnavailableError if nothing listens at `socketPath`. */
  static async connect(socketPath: string, opts: ConnectOptions = {}): Promise<ShimClient> {
    const socket = await openSocket(socketPath, opts.timeoutMs ?? 5000);
    const client = new ShimClient(socketPath, socket);
    try {
      client.info = await client.call('hello', { version: PROTOCOL_VERSION, events: opts.events ?? true });
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** Sends one request; resolves with its result or rejects with the @berth/errdefs class of the shim's error. */
  call<M extends Method>(method: M, params: Methods[M][0]): Promise<Methods[M][1]> {
    if (this.closed) return Promise.reject(new UnavailableError(`shim ${this.socketPath}: connection closed`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(encodeFrame({ t: 'req', id, method, params }));
    });
  }

  claim(p: ClaimParams): Promise<ClaimResult> {
    return this.call('claim', p);
  }

  async create(p: CreateParams): Promise<number> {
    return (await this.call('create', p)).pid;
  }

  async start(execId?: string): Promise<number> {
    return (await this.call('start', ids(execId))).pid;
  }

  state(execId?: string): Promise<ProcessState> {
    return this.call('state', ids(execId));
  }

  async kill(signal: number | string, opts: { execId?: string; all?: boolean } = {}): Promise<void> {
    await this.call('kill', { signal, ...opts });
  }

  delete(execId?: string): Promise<DeleteResult> {
    return this.call('delete', ids(execId));
  }

  async exec(p: ExecParams): Promise<void> {
    await this.call('exec', p);
  }

  async resizePty(width: number, height: number, execId?: string): Promise<void> {
    await this.call('resizePty', { width, height, ...ids(execId) });
  }

  async closeStdin(execId?: string): Promise<void> {
    await this.call('closeStdin', ids(execId));
  }

  pids(): Promise<PidInfo[]> {
    return this.call('pids', {});
  }

  async pause(): Promise<void> {
    await this.call('pause', {});
  }

  async resume(): Promise<void> {
    await this.call('resume', {});
  }

  async update(resources: LinuxResources): Promise<void> {
    await this.call('update', { resources });
  }

  stats(): Promise<Stats> {
    return this.call('stats', {});
  }

  /** Resolves when the process has exited (at once if it already has); its output is drained by then. */
  wait(execId?: string): Promise<ExitStatus> {
    return this.call('wait', ids(execId));
  }

  /** Asks the shim to exit: refused while a task exists unless `force` (which kills it first). */
  async shutdown(force = false): Promise<void> {
    await this.call('shutdown', { force });
  }

  /**
   * Opens a second connection to the same shim and attaches it to a process's stdio (this connection is
   * left as it is). Output is what the process writes from now on.
   */
  static async attach(socketPath: string, p: AttachParams, timeoutMs = 5000): Promise<Attachment> {
    const client = await ShimClient.connect(socketPath, { timeoutMs, events: false });
    return client.switchToAttach(p);
  }

  private async switchToAttach(p: AttachParams): Promise<Attachment> {
    const socket = this.socket;
    try {
      await this.call('attach', p);
    } catch (err) {
      this.close();
      throw err;
    }
    socket.removeAllListeners('data');
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const streams = new StreamDecoder();
    let resolveExit!: (s: ExitStatus | undefined) => void;
    const exit = new Promise<ExitStatus | undefined>((r) => (resolveExit = r));
    const onData = (chunk: Buffer) => {
      for (const f of streams.push(chunk)) {
        if (f.stream === STREAM_STDOUT) stdout.write(f.data);
        else if (f.stream === STREAM_STDERR) stderr.write(f.data);
        else if (f.stream === STREAM_EXIT) resolveExit(JSON.parse(f.data.toString('utf8')) as ExitStatus);
      }
    };
    const rest = this.decoder.rest();
    if (rest.length > 0) onData(rest);
    socket.on('data', onData);
    socket.on('close', () => {
      stdout.end();
      stderr.end();
      resolveExit(undefined);
    });
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (!p.stdin) return cb(new FailedPreconditionError('attach: stdin was not requested'));
        if (chunk.length === 0) return cb();
        socket.write(encodeStreamFrame(STREAM_STDIN, chunk), () => cb());
      },
      final(cb) {
        if (p.stdin && !socket.destroyed) socket.write(encodeStreamFrame(STREAM_STDIN, Buffer.alloc(0)), () => cb());
        else cb();
      },
    });
    stdin.on('error', () => {});
    return { stdout, stderr, stdin, exit, close: () => socket.destroy() };
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onFrame(f: Frame): void {
    if (f.t === 'res') {
      const p = this.pending.get(f.id);
      if (!p) return;
      this.pending.delete(f.id);
      if ('error' in f) p.reject(errorFromCode(f.error.code, f.error.message));
      else p.resolve(f.result);
    } else if (f.t === 'evt') {
      if (f.topic === 'exit') this.emit('exit', f.data as Events['exit']);
      else if (f.topic === 'oom') this.emit('oom', f.data as Events['oom']);
      else if (f.topic === 'load') this.emit('load', f.data as Events['load']);
    }
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.closed = true;
    this.socket.destroy();
    const error = err instanceof UnavailableError ? err : new UnavailableError(`shim ${this.socketPath}: ${err.message}`, { cause: err });
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    this.emit('close');
  }
}

function ids(execId: string | undefined): { execId?: string } {
  return execId ? { execId } : {};
}

async function openSocket(socketPath: string, timeoutMs: number): Promise<net.Socket> {
  const socket = net.createConnection(socketPath);
  const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    await once(socket, 'connect');
    return socket;
  } catch (err) {
    throw new UnavailableError(`connect to shim ${socketPath}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
