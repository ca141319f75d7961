// berth-runc run [--detach] [create flags] ID: create + start; in the foreground, wait for the init, exit
// with its status and delete the container (runc's run).
import { InvalidArgumentError } from '@berth/errdefs';
import path from 'node:path';
import type { Command } from '../context.ts';
import { bool, need, parseFlags, str } from '../flags.ts';
import { foreground } from '../foreground.ts';
import { CREATE_FLAGS, checkPreserveFds, wantsTerminal } from './create.ts';

export const run: Command = async (argv, ctx) => {
  const p = parseFlags(argv, [...CREATE_FLAGS, { name: 'detach', alias: 'd', type: 'bool' }, { name: 'keep', type: 'bool' }]);
  const [id] = need(p, 1, 'run', '[command options] <container-id>');
  checkPreserveFds(str(p, 'preserve-fds'));
  const bundle = path.resolve(str(p, 'bundle') ?? '.');
  const detach = bool(p, 'detach');
  const consoleSocket = str(p, 'console-socket');
  if (detach && wantsTerminal(bundle) && !consoleSocket) {
    throw new InvalidArgumentError('cannot allocate tty if runc will detach without setting console socket');
  }
  const rt = ctx.runtime();
  const pidFile = str(p, 'pid-file');
  const { pid, ptyMaster } = await rt.create(id!, {
    bundle,
    stdio: { stdin: 0, stdout: 1, stderr: 2 },
    ...(consoleSocket ? { consoleSocket: path.resolve(consoleSocket) } : {}),
    ...(pidFile ? { pidFile } : {}),
    noPivot: bool(p, 'no-pivot'),
  });
  try {
    await rt.start(id!);
  } catch (err) {
    await rt.delete(id!, { force: true }).catch(() => {});
    throw err;
  }
  if (detach) return 0;
  const status = await foreground(pid, ptyMaster);
  if (!bool(p, 'keep')) await rt.delete(id!, { force: true });
  return status;
};
