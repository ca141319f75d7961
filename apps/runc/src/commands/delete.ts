// berth-runc delete [--force] ID...: removes stopped (or, with --force, running) containers.
import type { Command } from '../context.ts';
import { bool, need, parseFlags } from '../flags.ts';

export const deleteCmd: Command = async (argv, ctx) => {
  const p = parseFlags(argv, [{ name: 'force', alias: 'f', type: 'bool' }]);
  const ids = need(p, 1, 'delete', '[command options] <container-id> [container-id...]');
  for (const id of ids) await ctx.runtime().delete(id, { force: bool(p, 'force') });
  return 0;
};
