// berth-runc create [--bundle B] [--console-socket S] [--pid-file P] [--no-pivot] ID: the init is set up, in
// its cgroups, blocked until `start`, and a child of the caller (CLONE_PARENT). This process's stdio become
// the container's, as with runc.
import { InvalidArgumentError } from '@berth/errdefs';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../context.ts';
import { bool, need, parseFlags, str } from '../flags.ts';

export const CREATE_FLAGS = [
  { name: 'bundle', alias: 'b', type: 'string' as const },
  { name: 'console-socket', type: 'string' as const },
  { name: 'pid-file', type: 'string' as const },
  { name: 'no-pivot', type: 'bool' as const },
  { name: 'no-new-keyring', type: 'bool' as const },
  { name: 'preserve-fds', type: 'string' as const },
  { name: 'pidfd-socket', type: 'string' as const },
];

/** runc refuses a terminal that nobody would receive; read the flag before doing any work. */
export function wantsTerminal(bundle: string): boolean {
  try {
    const spec = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { process?: { terminal?: boolean } };
    return spec.process?.terminal === true;
  } catch {
    return false; // create reports the real problem
  }
}

export function checkPreserveFds(value: string | undefined): void {
  if (value !== undefined && value !== '0') throw new InvalidArgumentError('--preserve-fds is not supported');
}

export const create: Command = async (argv, ctx) => {
  const p = parseFlags(argv, CREATE_FLAGS);
  const [id] = need(p, 1, 'create', '[command options] <container-id>');
  checkPreserveFds(str(p, 'preserve-fds'));
  const bundle = path.resolve(str(p, 'bundle') ?? '.');
  const consoleSocket = str(p, 'console-socket');
  if (wantsTerminal(bundle) && !consoleSocket) {
    throw new InvalidArgumentError('cannot allocate tty if runc will detach without setting console socket');
  }
  const pidFile = str(p, 'pid-file');
  await ctx.runtime().create(id!, {
    bundle,
    stdio: { stdin: 0, stdout: 1, stderr: 2 },
    ...(consoleSocket ? { consoleSocket: path.resolve(consoleSocket) } : {}),
    ...(pidFile ? { pidFile } : {}),
    noPivot: bool(p, 'no-pivot'),
  });
  return 0;
};
