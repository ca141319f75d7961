/**
 * FIFOs between berthd and the shim (docs/architecture.md, "Stdio and logs"). berthd creates them; the shim
 * opens its ends when the task or exec is created.
 *
 * - stdin: berthd holds the write end open (O_RDWR, so opening never blocks and the shim's reader never sees
 *   EOF before we want it to); closing it is the container's EOF on stdin.
 * - exec output: berthd opens a *keeper* (O_RDWR) so the shim's open for writing does not block, then its
 *   reader (O_RDONLY|O_NONBLOCK); once the exec has started (the shim holds its write end) the keeper is
 *   closed, and the reader sees EOF exactly when the shim closes its end.
 * Descriptors are wrapped in net.Socket, which drives a FIFO through libuv without blocking threads.
 */
import { execFile } from 'node:child_process';
import { closeSync, constants as C, mkdirSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
import { wrap } from '@berth/errdefs';

const run = promisify(execFile);

/** Creates FIFOs (mode 0600), replacing stale files. */
export async function makeFifos(dir: string, paths: string[]): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const p of paths) rmSync(p, { force: true });
  try {
    await run('mkfifo', ['-m', '600', ...paths]);
  } catch (err) {
    throw wrap(err, `create fifos in ${dir}`);
  }
}

/** The write end of a container's or exec's stdin. */
export class StdinPipe {
  readonly path: string;
  private socket: Socket | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** Opens (or reopens after a daemon restart) the write end. */
  open(): void {
    if (this.socket && !this.socket.destroyed) return;
    const fd = openSync(this.path, C.O_RDWR | C.O_NONBLOCK);
    this.socket = new Socket({ fd, readable: false, writable: true });
    this.socket.on('error', () => undefined);
  }

  get isOpen(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  write(data: Buffer): Promise<void> {
    const s = this.socket;
    if (!s || s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      if (s.write(data)) resolve();
      else {
        const done = () => {
          s.off('drain', done);
          s.off('close', done);
          resolve();
        };
        s.once('drain', done);
        s.once('close', done);
      }
    });
  }

  /** EOF for the reader, once what was written has been flushed into the pipe. */
  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s || s.destroyed) return;
    await new Promise<void>((resolve) => {
      if (s.writableLength === 0) {
        s.destroy();
        resolve();
        return;
      }
      s.end(() => {
        s.destroy();
        resolve();
      });
    });
  }
}

/** The reading side of an output FIFO (see the module comment for the keeper). */
export class OutputPipe {
  readonly path: string;
  readonly socket: Socket;
  private keeper: number | undefined;

  constructor(path: string) {
    this.path = path;
    this.keeper = openSync(path, C.O_RDWR | C.O_NONBLOCK);
    const fd = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
    this.socket = new Socket({ fd, readable: true, writable: false });
    this.socket.on('error', () => undefined);
  }

  /** Called once the writer (the shim) holds its end: from now on EOF means the writer closed. */
  release(): void {
    if (this.keeper !== undefined) {
      closeSync(this.keeper);
      this.keeper = undefined;
    }
  }

  destroy(): void {
    this.release();
    this.socket.destroy();
  }
}
