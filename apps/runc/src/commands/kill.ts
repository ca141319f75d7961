// berth-runc kill [--all] ID [SIGNAL]: SIGNAL as a number or a name (KILL, SIGKILL); default SIGTERM.
import type { Command } from '../context.ts';
import { bool, need, parseFlags } from '../flags.ts';

export const kill: Command = async (argv, ctx) => {
  const p = parseFlags(argv, [{ name: 'all', alias: 'a', type: 'bool' }]);
  const [id, signal] = need(p, 1, 'kill', '[command options] <container-id> [signal]');
  await ctx.runtime().kill(id!, signal ?? 'SIGTERM', { all: bool(p, 'all') });
  return 0;
};
