// Pipes for a process's stdio. An output pipe is a pipe(2) (through the addon: Node has none); an input pipe is
// made from a FIFO in the shim's state dir, opened once for each end and unlinked at once, so that the shim's
// end can be opened read-write (see makePipe). Either way the container's end is in blocking mode (programs
// expect that of their stdio); the shim's end is a separate open file description, put in non-blocking mode
// by libuv when wrapped in a net.Socket.
import { mkfifo, pipe } from '@berth/runtime';
import { closeSync, constants as fsc, openSync, unlinkSync } from 'node:fs';
import path from 'node:path';

let counter = 0;

export interface Pipe {
  /** The end the shim keeps. */
  shim: number;
  /** The end handed to the container (closed by the shim once the process has it). */
  container: number;
}

/**
 * An output pipe (container writes, shim reads), or an input pipe (shim writes, container reads). For input the
 * shim's end is opened read-write, so that opening the container's end never blocks; the shim never reads it.
 */
export function makePipe(dir: string, direction: 'output' | 'input'): Pipe {
  if (direction === 'output') {
    const [shim, container] = pipe();
    return { shim, container };
  }
  const file = path.join(dir, `.pipe-${process.pid}-${counter++}`);
  mkfifo(file, 0o600);
  let shim = -1;
  try {
    shim = openSync(file, fsc.O_RDWR);
    return { shim, container: openSync(file, fsc.O_RDONLY) };
  } catch (err) {
    if (shim >= 0) closeSync(shim);
    throw err;
  } finally {
    unlinkSync(file);
  }
}
