import { spawn } from 'node:child_process';
import { InternalError, NotFoundError } from '@berth/errdefs';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a system tool (`ip`, `iptables-restore`, `nsenter`, `unshare`, …) to completion. Throws when it cannot be
 * started or, unless `check` is false, when it exits non-zero: the error says what was run and what it printed.
 */
export interface ToolOptions {
  input?: string;
  check?: boolean;
  what?: string;
}

export async function runTool(cmd: string, args: string[], opts: ToolOptions = {}): Promise<ToolResult> {
  const child = spawn(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (opts.input !== undefined) {
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input);
  }
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new NotFoundError(`${cmd} is not installed (needed to ${opts.what ?? 'configure networking'})`) : err);
    });
    child.once('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  if (code !== 0 && opts.check !== false) {
    const what = opts.what ?? `${cmd} ${args.join(' ')}`;
    throw new InternalError(`${what}: ${cmd} exited with ${code}: ${stderr.trim() || stdout.trim()}`);
  }
  return { code, stdout, stderr };
}
