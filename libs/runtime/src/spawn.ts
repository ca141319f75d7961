// Running other programs without fork(): posix_spawn (the addon's spawnProcess) instead of child_process. Node's
// spawn forks, copying the page tables of the whole process and write-protecting its memory until the child
// execs; from a daemon with ~50 MB of heap that is ~7 ms per spawn on this machine, against ~1 ms here. The
// daemons' tools (`ip`, `iptables-restore`, `nsenter`, …) run through runCaptured; stdin and the captured output
// are memfds, so nothing needs a pipe or a stream.
import { closeSync, fstatSync, readSync } from 'node:fs';
import { type ExitStatus, waitExit } from './exits.ts';
import { native } from './native.ts';

export interface CapturedRun extends ExitStatus {
  stdout: string;
  stderr: string;
}

export interface RunCapturedOptions {
  /** Given to the program on stdin (else /dev/null). */
  input?: string | Uint8Array;
  /** The environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

function envList(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
}

function readAll(fd: number): string {
  const size = fstatSync(fd).size;
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return buf.toString('utf8', 0, off);
}

/**
 * Runs `file` (searched in PATH) with `args` to completion and returns its status and output. Throws a native
 * error with code 'ENOENT' when the program does not exist.
 */
export async function runCaptured(file: string, args: readonly string[], opts: RunCapturedOptions = {}): Promise<CapturedRun> {
  const n = native();
  const fds: number[] = [];
  try {
    const input = opts.input === undefined ? -1 : n.memfd('stdin', typeof opts.input === 'string' ? Buffer.from(opts.input) : opts.input);
    if (input >= 0) fds.push(input);
    const out = n.memfd('stdout');
    fds.push(out);
    const err = n.memfd('stderr');
    fds.push(err);
    const pid = n.spawnProcess(file, [file, ...args], envList(opts.env ?? process.env), [input, out, err]);
    if (input >= 0) closeSync(fds.shift()!);
    const status = await waitExit(pid);
    return { ...status, stdout: readAll(out), stderr: readAll(err) };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}
