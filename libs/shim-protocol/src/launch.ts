// Starting berth-shim processes: detached (own session, so they outlive their caller), their stdout/stderr in
// a log file, readiness signalled on fd 3 once the control socket listens.
import { FailedPreconditionError, UnavailableError } from '@berth/errdefs';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

/**
 * V8/Node flags for a shim (figures in docs/shim.md): a small young generation (the one flag that saves
 * memory measurably) and a bound on the old space. Not `--single-threaded`: it saves no memory and makes loading
 * `node:net` ~4× slower (≈10 ms more CPU per shim start).
 */
export const SHIM_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--max-old-space-size=128',
];

/** Unix socket paths longer than this do not fit in sockaddr_un. */
export const MAX_SOCKET_PATH = 107;

export interface LaunchShimOptions {
  /** The berth-shim executable: a bundled `.js` (run by this Node with `nodeFlags`) or any executable. */
  binary: string;
  /** The control socket to listen on. */
  socket: string;
  /** The shim's own directory (created; must be empty or absent): exit status, task record, its log. */
  stateDir: string;
  /**
   * The task id: the shim serves this one task on `socket` with its files in `stateDir`. Omit to start a host
   * (a spare): `socket` and `stateDir` are then the process's own, and tasks are added with `claim`.
   */
  id?: string;
  namespace?: string;
  /** A host's number of tasks (default 1: one process per container). */
  capacity?: number;
  /** Where the shim's own log goes (default `<stateDir>/shim.log`). */
  logFile?: string;
  nodeFlags?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Give up waiting for readiness after this long (default 10 s). */
  timeoutMs?: number;
}

export interface LaunchedShim {
  pid: number;
  socket: string;
  stateDir: string;
}

export function checkSocketPath(socket: string): void {
  if (!path.isAbsolute(socket)) throw new FailedPreconditionError(`shim socket ${socket}: must be an absolute path`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new FailedPreconditionError(`shim socket ${socket}: longer than ${MAX_SOCKET_PATH} bytes`);
  }
}

/** Starts a shim and resolves once its control socket accepts connections. */
export async function launchShim(opts: LaunchShimOptions): Promise<LaunchedShim> {
  checkSocketPath(opts.socket);
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o711 });
  const logFile = opts.logFile ?? path.join(opts.stateDir, 'shim.log');
  const log = openSync(logFile, 'a', 0o600);
  const args = ['--socket', opts.socket, '--state', opts.stateDir, '--ready-fd', '3'];
  if (opts.id) args.push('--id', opts.id);
  if (opts.namespace) args.push('--namespace', opts.namespace);
  if (opts.capacity && !opts.id) args.push('--capacity', String(opts.capacity));
  // A bundled shim (or a link to one, as `berth-shim` on PATH is) runs under this Node with the memory flags.
  const isScript = /\.[cm]?[jt]s$/.test(realBinary(opts.binary));
  const [cmd, argv] = isScript
    ? [process.execPath, [...(opts.nodeFlags ?? SHIM_NODE_FLAGS), opts.binary, ...args]]
    : [opts.binary, args];
  let child;
  try {
    child = spawn(cmd, argv, { detached: true, stdio: ['ignore', log, log, 'pipe'], env: opts.env ?? process.env });
  } finally {
    closeSync(log);
  }
  const ready = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  const timeoutMs = opts.timeoutMs ?? 10_000;
  try {
    const pid = await new Promise<number>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new UnavailableError(`start shim ${opts.socket}: not ready after ${timeoutMs} ms`)), timeoutMs);
      ready.setEncoding('utf8');
      ready.on('data', (d: string) => {
        text += d;
        const nl = text.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        resolve((JSON.parse(text.slice(0, nl)) as { pid: number }).pid);
      });
      ready.on('end', () => {
        clearTimeout(timer);
        reject(new UnavailableError(`start shim ${opts.socket}: exited before it was ready: ${tail(logFile)}`));
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new UnavailableError(`start shim ${cmd}: ${err.message}`, { cause: err }));
      });
    });
    return { pid, socket: opts.socket, stateDir: opts.stateDir };
  } catch (err) {
    if (child.pid && child.exitCode === null) child.kill('SIGKILL');
    throw err;
  } finally {
    ready.destroy();
    child.unref();
  }
}

function realBinary(binary: string): string {
  try {
    return realpathSync(binary);
  } catch {
    return binary;
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ') || '(no output)';
  } catch {
    return '(no log)';
  }
}
