// A process's stdio as the shim holds it: the pipes (or the pty master) on the shim's side, the sinks their
// output fans out to (the configured targets plus attach clients), and stdin (a FIFO callers write to, attach
// clients, or both). The container's ends are handed to the runtime and closed here once the process has them.
import type { LogStream } from '@berth/container-logs';
import { FailedPreconditionError } from '@berth/errdefs';
import { resizePty } from '@berth/runtime';
import { encodeStreamFrame, parseStdio, STREAM_STDERR, STREAM_STDOUT, type StdioConfig, type StdioTarget } from '@berth/shim-protocol';
import { closeSync, constants as fsc, openSync, write } from 'node:fs';
import net from 'node:net';
import tty from 'node:tty';
import { makePipe } from './pipes.ts';
import { FileSink, JsonFileSink, LossySink, openFifoSink, PARTIAL_FLUSH_MS, type Sink } from './sinks.ts';

/** After the process exits, wait this long for leftover writers (orphans holding the pipe) before cutting output off. */
export const DRAIN_TIMEOUT_MS = 2000;

type Readable = net.Socket | tty.ReadStream;

export class ProcessIO {
  readonly config: StdioConfig;
  readonly terminal: boolean;
  private readonly targets: { stdin: StdioTarget; stdout: StdioTarget; stderr: StdioTarget };
  private readonly sinks: Record<LogStream, Sink[]> = { stdout: [], stderr: [] };
  private readonly attached = new Set<LossySink>();
  private readonly sources: Readable[] = [];
  private sourcesOpen = 0;
  private drainedResolve!: () => void;
  private readonly drainedPromise = new Promise<void>((r) => (this.drainedResolve = r));
  /** Fds for the container's 0, 1, 2 (closed once handed over). */
  private containerFds: number[] = [];
  /** The shim's writer to the process's stdin (pipe or pty master). */
  private stdinWriter: net.Socket | undefined;
  private ptyMaster: number | undefined;
  private ptyWriter: PtyWriter | undefined;
  /** The stdin FIFO's reader, and the shim's own writer that keeps callers' closes from reaching the process. */
  private stdinFifo: net.Socket | undefined;
  private stdinKeepalive: number | undefined;
  private stdinClosed = false;
  private closed = false;

  constructor(config: StdioConfig) {
    this.config = config;
    this.terminal = config.terminal === true;
    this.targets = {
      stdin: parseStdio(config.stdin, 'stdin'),
      stdout: parseStdio(config.stdout, 'stdout'),
      stderr: parseStdio(config.stderr, 'stderr'),
    };
    if (this.targets.stdin.kind === 'file' || this.targets.stdin.kind === 'jsonfile') {
      throw new FailedPreconditionError(`stdin ${config.stdin}: must be a FIFO path`);
    }
  }

  /** Opens the targets and makes the pipes; returns the stdio fds for the runtime (none with a terminal). */
  open(pipeDir: string): { stdin?: number; stdout?: number; stderr?: number } {
    try {
      this.openSinks();
      if (this.targets.stdin.kind === 'fifo') {
        const fifo = this.targets.stdin.path;
        const reader = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
        this.stdinFifo = new net.Socket({ fd: reader, readable: true, writable: false });
        this.stdinFifo.pause();
        this.stdinKeepalive = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
      }
      if (this.terminal) return {};
      const fds: { stdin?: number; stdout?: number; stderr?: number } = {};
      if (this.targets.stdin.kind === 'fifo') {
        const p = makePipe(pipeDir, 'input');
        this.containerFds.push(p.container);
        this.stdinWriter = new net.Socket({ fd: p.shim, readable: false, writable: true });
        this.stdinWriter.on('error', () => {});
        fds.stdin = p.container;
      }
      // Output always goes through the shim, even with no target: attach clients may come.
      for (const stream of ['stdout', 'stderr'] as const) {
        const p = makePipe(pipeDir, 'output');
        this.containerFds.push(p.container);
        this.addSource(new net.Socket({ fd: p.shim, readable: true, writable: false }), stream);
        fds[stream] = p.container;
      }
      return fds;
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private openSinks(): void {
    const shared = new Map<string, JsonFileSink | FileSink>();
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.terminal && stream === 'stderr') continue;
      const t = this.targets[stream];
      if (t.kind === 'none') continue;
      if (t.kind === 'fifo') {
        this.sinks[stream].push(openFifoSink(t.path));
        continue;
      }
      const key = `${t.kind}:${t.path}`;
      const existing = shared.get(key);
      if (existing) {
        this.sinks[stream].push(existing.share());
        continue;
      }
      const flushMs = this.terminal ? PARTIAL_FLUSH_MS.terminal : PARTIAL_FLUSH_MS.pipe;
      const sink = t.kind === 'jsonfile' ? new JsonFileSink(t, flushMs) : new FileSink(t.path);
      shared.set(key, sink);
      this.sinks[stream].push(sink);
    }
  }

  /** The process exists: close the container's ends here, start copying stdin, take the pty master. */
  started(ptyMaster: number | undefined): void {
    for (const fd of this.containerFds) closeSync(fd);
    this.containerFds = [];
    if (ptyMaster !== undefined) {
      this.ptyMaster = ptyMaster;
      this.ptyWriter = new PtyWriter(ptyMaster);
      const size = this.config.terminal ? this.pendingSize : undefined;
      if (size) resizePty(ptyMaster, size.width, size.height);
      const reader = new tty.ReadStream(ptyMaster);
      this.addSource(reader, 'stdout');
    }
    if (this.stdinFifo) {
      this.stdinFifo.on('data', (d: Buffer) => this.writeStdin(d));
      this.stdinFifo.on('end', () => this.endStdin());
      this.stdinFifo.on('error', () => this.endStdin());
      this.stdinFifo.resume();
    }
    if (this.sourcesOpen === 0) this.drainedResolve();
  }

  private pendingSize: { width: number; height: number } | undefined;

  /** Sets the terminal size now, or once the pty exists. */
  resize(width: number, height: number): void {
    if (!this.terminal) throw new FailedPreconditionError('resize: the process has no terminal');
    if (this.ptyMaster === undefined) this.pendingSize = { width, height };
    else resizePty(this.ptyMaster, width, height);
  }

  private addSource(src: Readable, stream: LogStream): void {
    this.sources.push(src);
    this.sourcesOpen++;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      for (const s of this.sinks[stream]) s.flush();
      if (--this.sourcesOpen === 0) this.drainedResolve();
    };
    src.on('data', (chunk: Buffer) => {
      for (const s of this.sinks[stream]) s.write(stream, chunk);
      for (const a of this.attached) a.write(stream, chunk);
    });
    src.on('end', end);
    src.on('close', end);
    // A pty master reads EIO once the last slave fd is closed: that is its end of output.
    src.on('error', end);
  }

  writeStdin(data: Buffer): void {
    if (this.stdinClosed || data.length === 0) return;
    if (this.stdinWriter) this.stdinWriter.write(data);
    else this.ptyWriter?.write(data);
  }

  /** EOF for the process's stdin (the pipe closed; a terminal is left open, its output may go on). */
  endStdin(): void {
    if (this.stdinClosed) return;
    this.stdinClosed = true;
    this.stdinWriter?.end();
    this.stdinFifo?.destroy();
    if (this.stdinKeepalive !== undefined) closeSync(this.stdinKeepalive);
    this.stdinKeepalive = undefined;
  }

  /**
   * closeStdin: drops the shim's own writer of the stdin FIFO, so EOF reaches the process once no caller holds
   * the FIFO open; without a FIFO, closes the process's stdin at once.
   */
  closeStdin(): void {
    if (this.stdinKeepalive !== undefined) {
      closeSync(this.stdinKeepalive);
      this.stdinKeepalive = undefined;
    } else {
      this.endStdin();
    }
  }

  get hasStdin(): boolean {
    return this.stdinWriter !== undefined || (this.terminal && this.targets.stdin.kind !== 'none');
  }

  /** Adds an attach client: it gets the output streams it asked for, from now on, until its socket closes. */
  attach(socket: net.Socket, opts: { stdout?: boolean; stderr?: boolean }): void {
    const sink = new LossySink(
      socket,
      (stream, chunk) => encodeStreamFrame(stream === 'stderr' ? STREAM_STDERR : STREAM_STDOUT, chunk),
      (stream) => (stream === 'stderr' ? opts.stderr : opts.stdout) === true,
    );
    this.attached.add(sink);
    socket.once('close', () => this.attached.delete(sink));
  }

  /** Resolves once every output source has ended (all writers closed) — or after `timeoutMs`, cutting them off. */
  async drained(timeoutMs = DRAIN_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drainedPromise, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    for (const s of this.sources) s.destroy();
    for (const stream of ['stdout', 'stderr'] as const) for (const s of this.sinks[stream]) s.flush();
  }

  /** Closes everything: sinks (FIFO readers see EOF), stdin, the pty master. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.containerFds) closeSync(fd);
    this.containerFds = [];
    this.endStdin();
    this.stdinFifo?.destroy();
    if (this.ptyWriter) this.ptyWriter.closed = true;
    for (const s of this.sources) s.destroy();
    for (const stream of ['stdout', 'stderr'] as const) for (const s of this.sinks[stream]) s.close();
    this.sinks.stdout = [];
    this.sinks.stderr = [];
    // The pty master's fd is owned by its tty.ReadStream (closed with it); a pty never read still needs closing.
    if (this.ptyMaster !== undefined && this.sources.length === 0) closeSync(this.ptyMaster);
    this.ptyMaster = undefined;
  }
}

/** Writes to a pty master in order (non-blocking fd: retried while the terminal's input queue is full). */
class PtyWriter {
  private readonly fd: number;
  private readonly queue: Buffer[] = [];
  private busy = false;
  closed = false;

  constructor(fd: number) {
    this.fd = fd;
  }

  write(data: Buffer): void {
    if (this.closed) return;
    this.queue.push(data);
    if (!this.busy) this.next();
  }

  private next(): void {
    const data = this.queue.shift();
    if (!data || this.closed) {
      this.busy = false;
      return;
    }
    this.busy = true;
    write(this.fd, data, 0, data.length, null, (err, n) => {
      if (err?.code === 'EAGAIN') {
        this.queue.unshift(data);
        setTimeout(() => this.next(), 10);
        return;
      }
      if (err) {
        this.closed = true;
        this.queue.length = 0;
      } else if (n < data.length) {
        this.queue.unshift(data.subarray(n));
      }
      this.next();
    });
  }
}
