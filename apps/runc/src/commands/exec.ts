// berth-runc exec [--process F | command options] [--detach] [--pid-file P] [--console-socket S] [--tty] ID [COMMAND...]
// Without --process the container's own process is the base (env, user, capabilities, rlimits), as runc does.
import { InvalidArgumentError } from '@berth/errdefs';
import type { Process } from '@berth/oci';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../context.ts';
import { bool, list, need, parseFlags, str, type Parsed } from '../flags.ts';
import { foreground } from '../foreground.ts';

const FLAGS = [
  { name: 'console-socket', type: 'string' as const },
  { name: 'pidfd-socket', type: 'string' as const },
  { name: 'cwd', type: 'string' as const },
  { name: 'env', alias: 'e', type: 'list' as const },
  { name: 'tty', alias: 't', type: 'bool' as const },
  { name: 'user', alias: 'u', type: 'string' as const },
  { name: 'additional-gids', alias: 'g', type: 'list' as const },
  { name: 'process', alias: 'p', type: 'string' as const },
  { name: 'detach', alias: 'd', type: 'bool' as const },
  { name: 'pid-file', type: 'string' as const },
  { name: 'process-label', type: 'string' as const },
  { name: 'apparmor', type: 'string' as const },
  { name: 'no-new-privs', type: 'bool' as const },
  { name: 'cap', alias: 'c', type: 'list' as const },
  { name: 'preserve-fds', type: 'string' as const },
  { name: 'cgroup', type: 'list' as const },
  { name: 'ignore-paused', type: 'bool' as const },
];

export function processFromFlags(base: Process | undefined, p: Parsed, args: string[]): Process {
  if (args.length === 0) throw new InvalidArgumentError('exec: no command given (pass it after the container id, or use --process)');
  const proc: Process = structuredClone(base ?? { user: { uid: 0, gid: 0 }, cwd: '/' });
  proc.args = args;
  proc.terminal = bool(p, 'tty');
  if (str(p, 'cwd')) proc.cwd = str(p, 'cwd')!;
  proc.env = [...(proc.env ?? []), ...list(p, 'env')];
  const user = str(p, 'user');
  if (user) {
    const [uid, gid] = user.split(':');
    if (!/^\d+$/.test(uid ?? '') || (gid !== undefined && !/^\d+$/.test(gid))) throw new InvalidArgumentError(`invalid --user ${JSON.stringify(user)}: want uid[:gid]`);
    proc.user = { ...proc.user, uid: Number(uid), gid: gid === undefined ? proc.user.gid : Number(gid) };
  }
  const gids = list(p, 'additional-gids');
  if (gids.length > 0) proc.user.additionalGids = gids.map(Number);
  if (bool(p, 'no-new-privs')) proc.noNewPrivileges = true;
  const caps = list(p, 'cap');
  if (caps.length > 0) {
    const c = proc.capabilities ?? {};
    for (const set of ['bounding', 'effective', 'permitted', 'ambient'] as const) c[set] = [...(c[set] ?? []), ...caps];
    proc.capabilities = c;
  }
  return proc;
}

export const exec: Command = async (argv, ctx) => {
  const p = parseFlags(argv, FLAGS);
  const [id, ...args] = need(p, 1, 'exec', '[command options] <container-id> <command> [command options]');
  if (str(p, 'preserve-fds') && str(p, 'preserve-fds') !== '0') throw new InvalidArgumentError('--preserve-fds is not supported');
  const rt = ctx.runtime();
  const file = str(p, 'process');
  let proc: Process;
  if (file) {
    try {
      proc = JSON.parse(readFileSync(file, 'utf8')) as Process;
    } catch (err) {
      throw new InvalidArgumentError(`read process ${file}: ${(err as Error).message}`);
    }
  } else {
    proc = processFromFlags(rt.config(id!).process, p, args);
  }
  const detach = bool(p, 'detach');
  const consoleSocket = str(p, 'console-socket');
  if (proc.terminal && detach && !consoleSocket) {
    throw new InvalidArgumentError('cannot allocate tty if runc will detach without setting console socket');
  }
  const pidFile = str(p, 'pid-file');
  const { pid, ptyMaster } = await rt.exec(id!, proc, {
    stdio: { stdin: 0, stdout: 1, stderr: 2 },
    ...(consoleSocket ? { consoleSocket: path.resolve(consoleSocket) } : {}),
    ...(pidFile ? { pidFile } : {}),
  });
  if (detach) return 0;
  return foreground(pid, ptyMaster);
};
