// Where a process's output goes. Every sink takes output synchronously and never pushes back: the json-file
// log and raw files are written as the output is read (so the container runs at the log's speed and nothing is
// lost), FIFOs and attach clients get what they can take and lose output beyond a bound rather than slow the
// container down.
import { JsonFileWriter, LineSplitter, type LogStream } from '@berth/container-logs';
import { closeSync, constants as fsc, openSync, writeSync } from 'node:fs';
import net from 'node:net';
import type { StdioTarget } from '@berth/shim-protocol';

/** Output a FIFO reader or attach client may fall behind by before output to it is dropped. */
export const LOSSY_LIMIT = 1024 * 1024;

/**
 * A partial line (a prompt) is written to the log after this much quiet: soon for a terminal (someone is
 * typing at it), later for pipes, where a producer stalled mid-line (a loaded machine) would otherwise split
 * lines into more entries than Docker writes.
 */
export const PARTIAL_FLUSH_MS = { terminal: 100, pipe: 1000 } as const;

export interface Sink {
  write(stream: LogStream, chunk: Buffer): void;
  /** Writes pending partial lines now (end of output). */
  flush(): void;
  close(): void;
}

/** Docker's json-file log; stdout and stderr naming the same file share one writer. */
export class JsonFileSink implements Sink {
  private readonly writer: JsonFileWriter;
  private readonly splitters: Record<LogStream, LineSplitter>;
  private timer: NodeJS.Timeout | undefined;
  private users = 1;
  private readonly flushMs: number;

  constructor(target: Extract<StdioTarget, { kind: 'jsonfile' }>, flushMs: number) {
    this.flushMs = flushMs;
    this.writer = JsonFileWriter.open(target.path, { maxSize: target.maxSize, maxFile: target.maxFile });
    this.splitters = { stdout: new LineSplitter('stdout', this.writer), stderr: new LineSplitter('stderr', this.writer) };
  }

  get path(): string {
    return this.writer.path;
  }

  /** One more stream uses this sink (close() is then needed once per user). */
  share(): this {
    this.users++;
    return this;
  }

  write(stream: LogStream, chunk: Buffer): void {
    const s = this.splitters[stream];
    s.write(chunk);
    if (s.hasPartial) {
      if (this.timer) this.timer.refresh();
      else this.timer = setTimeout(() => this.flush(), this.flushMs);
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.splitters.stdout.flush();
    this.splitters.stderr.flush();
  }

  close(): void {
    if (--this.users > 0) return;
    this.flush();
    this.writer.close();
  }
}

/** Raw output appended to a regular file (`file://`). */
export class FileSink implements Sink {
  private readonly fd: number;
  private users = 1;

  constructor(file: string) {
    this.fd = openSync(file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o640);
  }

  share(): this {
    this.users++;
    return this;
  }

  write(_stream: LogStream, chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off);
  }

  flush(): void {}

  close(): void {
    if (--this.users > 0) return;
    closeSync(this.fd);
  }
}

/** A stream socket (a FIFO opened by the shim, an attach connection) that may fall behind. */
export class LossySink implements Sink {
  readonly socket: net.Socket;
  dropped = 0;
  private readonly encode: (stream: LogStream, chunk: Buffer) => Buffer;
  private readonly wants: (stream: LogStream) => boolean;

  constructor(
    socket: net.Socket,
    encode: (stream: LogStream, chunk: Buffer) => Buffer = (_s, c) => c,
    wants: (stream: LogStream) => boolean = () => true,
  ) {
    this.socket = socket;
    this.encode = encode;
    this.wants = wants;
    socket.on('error', () => {});
  }

  write(stream: LogStream, chunk: Buffer): void {
    if (this.socket.destroyed || !this.wants(stream)) return;
    if (this.socket.writableLength > LOSSY_LIMIT) {
      this.dropped += chunk.length;
      return;
    }
    this.socket.write(this.encode(stream, chunk));
  }

  flush(): void {}

  close(): void {
    this.socket.end();
    // A reader that never drains the pipe must not hold the descriptor for the life of a shared process.
    setTimeout(() => this.socket.destroy(), 10_000).unref();
  }
}

/**
 * An output FIFO, opened read-write: a reader that has not come yet (or went away) is not an error, and no
 * reader means output waits in the pipe (then is dropped) instead of failing the write.
 */
export function openFifoSink(file: string): LossySink {
  const fd = openSync(file, fsc.O_RDWR | fsc.O_NONBLOCK);
  return new LossySink(new net.Socket({ fd, readable: false, writable: true }));
}
