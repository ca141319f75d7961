// berth-runc start ID: releases a created container's init (exec.fifo) and runs poststart hooks.
import type { Command } from '../context.ts';
import { need, parseFlags } from '../flags.ts';

export const start: Command = async (argv, ctx) => {
  const p = parseFlags(argv, []);
  const [id] = need(p, 1, 'start', '<container-id>');
  await ctx.runtime().start(id!);
  return 0;
};
