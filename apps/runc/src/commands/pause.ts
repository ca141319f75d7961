// berth-runc pause ID / resume ID: freeze and thaw the container's cgroup.
import type { Command } from '../context.ts';
import { need, parseFlags } from '../flags.ts';

export const pause: Command = async (argv, ctx) => {
  const [id] = need(parseFlags(argv, []), 1, 'pause', '<container-id>');
  await ctx.runtime().pause(id!);
  return 0;
};

export const resume: Command = async (argv, ctx) => {
  const [id] = need(parseFlags(argv, []), 1, 'resume', '<container-id>');
  await ctx.runtime().resume(id!);
  return 0;
};
