import { InternalError, NotFoundError } from '@berth/errdefs';
import { runCaptured } from '@berth/runtime';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a system tool (`ip`, `iptables-restore`, `nsenter`, `unshare`, …) to completion. Throws when it cannot be
 * started or, unless `check` is false, when it exits non-zero: the error says what was run and what it printed.
 * Tools are started with posix_spawn (@berth/runtime's runCaptured), not child_process: forking berthd costs
 * ~7 ms per tool here, and attaching a container to a network runs one.
 */
export interface ToolOptions {
  input?: string;
  check?: boolean;
  what?: string;
}

export async function runTool(cmd: string, args: string[], opts: ToolOptions = {}): Promise<ToolResult> {
  let r;
  try {
    r = await runCaptured(cmd, args, opts.input === undefined ? {} : { input: opts.input });
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') {
      throw new NotFoundError(`${cmd} is not installed (needed to ${opts.what ?? 'configure networking'})`);
    }
    throw err;
  }
  const { stdout, stderr } = r;
  const code = r.exitCode ?? r.status;
  if (code !== 0 && opts.check !== false) {
    const what = opts.what ?? `${cmd} ${args.join(' ')}`;
    throw new InternalError(`${what}: ${cmd} exited with ${code}: ${stderr.trim() || stdout.trim()}`);
  }
  return { code, stdout, stderr };
}
