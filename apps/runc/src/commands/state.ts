// berth-runc state ID: {ociVersion, id, pid, status, bundle, rootfs, created, owner[, annotations]}, indented as runc prints it.
import type { Command } from '../context.ts';
import { need, parseFlags } from '../flags.ts';

export const state: Command = async (argv, ctx) => {
  const p = parseFlags(argv, []);
  const [id] = need(p, 1, 'state', '<container-id>');
  process.stdout.write(`${JSON.stringify(ctx.runtime().state(id!), null, 2)}\n`);
  return 0;
};
