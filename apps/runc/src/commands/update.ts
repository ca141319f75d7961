// berth-runc update [--resources FILE|-] [--memory …] ID: new limits for a running container. containerd's
// shim sends the whole LinuxResources as JSON on stdin (`--resources -`).
import { InvalidArgumentError } from '@berth/errdefs';
import type { LinuxResources } from '@berth/oci';
import { readFileSync } from 'node:fs';
import type { Command } from '../context.ts';
import { need, parseFlags, str, type Parsed } from '../flags.ts';

const FLAGS = [
  { name: 'resources', alias: 'r', type: 'string' as const },
  { name: 'memory', alias: 'm', type: 'string' as const },
  { name: 'memory-swap', type: 'string' as const },
  { name: 'memory-reservation', type: 'string' as const },
  { name: 'kernel-memory', type: 'string' as const },
  { name: 'kernel-memory-tcp', type: 'string' as const },
  { name: 'cpu-shares', type: 'string' as const },
  { name: 'cpu-quota', type: 'string' as const },
  { name: 'cpu-period', type: 'string' as const },
  { name: 'cpu-rt-period', type: 'string' as const },
  { name: 'cpu-rt-runtime', type: 'string' as const },
  { name: 'cpuset-cpus', type: 'string' as const },
  { name: 'cpuset-mems', type: 'string' as const },
  { name: 'pids-limit', type: 'string' as const },
  { name: 'blkio-weight', type: 'string' as const },
  { name: 'l3-cache-schema', type: 'string' as const },
  { name: 'mem-bw-schema', type: 'string' as const },
];

/** Docker's size syntax: 64m, 1g, 512k, 1024b, -1. */
export function parseSize(v: string): number {
  const m = /^(-?\d+(?:\.\d+)?)\s*([bkmgtp]?)i?b?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`invalid size: ${JSON.stringify(v)}`);
  const n = Number(m[1]);
  const unit = { '': 1, 'b': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4, 'p': 1024 ** 5 }[m[2]!.toLowerCase() as ''];
  return n < 0 ? -1 : Math.round(n * unit);
}

function int(v: string, name: string): number {
  if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`invalid value for --${name}: ${JSON.stringify(v)}`);
  return Number(v);
}

export function resourcesFromFlags(p: Parsed): LinuxResources {
  const r: LinuxResources = {};
  const f = (n: string) => str(p, n);
  if (f('memory') || f('memory-swap') || f('memory-reservation')) {
    r.memory = {};
    if (f('memory')) r.memory.limit = parseSize(f('memory')!);
    if (f('memory-swap')) r.memory.swap = parseSize(f('memory-swap')!);
    if (f('memory-reservation')) r.memory.reservation = parseSize(f('memory-reservation')!);
  }
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (f('cpu-shares')) cpu.shares = int(f('cpu-shares')!, 'cpu-shares');
  if (f('cpu-quota')) cpu.quota = int(f('cpu-quota')!, 'cpu-quota');
  if (f('cpu-period')) cpu.period = int(f('cpu-period')!, 'cpu-period');
  if (f('cpu-rt-period')) cpu.realtimePeriod = int(f('cpu-rt-period')!, 'cpu-rt-period');
  if (f('cpu-rt-runtime')) cpu.realtimeRuntime = int(f('cpu-rt-runtime')!, 'cpu-rt-runtime');
  if (f('cpuset-cpus')) cpu.cpus = f('cpuset-cpus')!;
  if (f('cpuset-mems')) cpu.mems = f('cpuset-mems')!;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;
  if (f('pids-limit')) r.pids = { limit: int(f('pids-limit')!, 'pids-limit') };
  if (f('blkio-weight')) r.blockIO = { weight: int(f('blkio-weight')!, 'blkio-weight') };
  return r;
}

export const update: Command = async (argv, ctx) => {
  const p = parseFlags(argv, FLAGS);
  const [id] = need(p, 1, 'update', '[command options] <container-id>');
  let resources: LinuxResources;
  const src = str(p, 'resources');
  if (src) {
    const text = readFileSync(src === '-' ? 0 : src, 'utf8');
    try {
      resources = JSON.parse(text) as LinuxResources;
    } catch (err) {
      throw new InvalidArgumentError(`parse resources from ${src === '-' ? 'stdin' : src}: ${(err as Error).message}`);
    }
  } else {
    resources = resourcesFromFlags(p);
  }
  ctx.runtime().update(id!, resources);
  return 0;
};
