import type { Resources, RestartPolicy } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { CliError } from '../../framework/errors.ts';
import { ramInBytes } from '../../format/units.ts';
import { forEach } from '../../lib/each.ts';
import { parseRestart } from '../../lib/run-options.ts';

export default class ContainerUpdate extends Command {
  static override usage = '[OPTIONS] CONTAINER [CONTAINER...]';
  static override examples = ['berth update --memory 256m --memory-swap 512m web', 'berth update --restart unless-stopped web', 'berth update --cpus 1.5 web'];
  static override args = [Args.string('container', { required: true, multiple: true })];
  static override flags = {
    'blkio-weight': Flags.integer({ description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', helpValue: 'uint16' }),
    'cpu-period': Flags.integer({ description: 'Limit CPU CFS (Completely Fair Scheduler) period' }),
    'cpu-quota': Flags.integer({ description: 'Limit CPU CFS (Completely Fair Scheduler) quota' }),
    'cpu-rt-period': Flags.integer({ description: 'Limit the CPU real-time period in microseconds' }),
    'cpu-rt-runtime': Flags.integer({ description: 'Limit the CPU real-time runtime in microseconds' }),
    'cpu-shares': Flags.integer({ char: 'c', description: 'CPU shares (relative weight)' }),
    'cpus': Flags.string({ description: 'Number of CPUs', helpValue: 'decimal' }),
    'cpuset-cpus': Flags.string({ description: 'CPUs in which to allow execution (0-3, 0,1)' }),
    'cpuset-mems': Flags.string({ description: 'MEMs in which to allow execution (0-3, 0,1)' }),
    'memory': Flags.string({ char: 'm', description: 'Memory limit', helpValue: 'bytes' }),
    'memory-reservation': Flags.string({ description: 'Memory soft limit', helpValue: 'bytes' }),
    'memory-swap': Flags.string({ description: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap', helpValue: 'bytes' }),
    'pids-limit': Flags.integer({ description: 'Tune container pids limit (set -1 for unlimited)' }),
    'restart': Flags.string({ description: 'Restart policy to apply when a container exits' }),
  };

  async run(): Promise<number> {
    const { flags, args, changed } = await this.parse(ContainerUpdate);
    if (changed.size === 0) this.error('you must provide one or more flags when using this command');
    const size = (name: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      if (name === 'memory-swap' && v === '-1') return -1;
      try {
        return ramInBytes(v);
      } catch {
        throw new CliError(`invalid argument "${v}" for "--${name}" flag: invalid size: '${v}'`, 125, true);
      }
    };
    const body: Resources & { RestartPolicy?: RestartPolicy } = {
      BlkioWeight: flags['blkio-weight'], CpuPeriod: flags['cpu-period'], CpuQuota: flags['cpu-quota'],
      CpuRealtimePeriod: flags['cpu-rt-period'], CpuRealtimeRuntime: flags['cpu-rt-runtime'], CpuShares: flags['cpu-shares'],
      CpusetCpus: flags['cpuset-cpus'], CpusetMems: flags['cpuset-mems'], Memory: size('memory', flags.memory),
      MemoryReservation: size('memory-reservation', flags['memory-reservation']), MemorySwap: size('memory-swap', flags['memory-swap']),
      PidsLimit: flags['pids-limit'],
    };
    if (flags.cpus !== undefined) body.NanoCpus = Math.round(Number(flags.cpus) * 1e9);
    if (flags.restart !== undefined) body.RestartPolicy = parseRestart(flags.restart);
    const client = await this.ctx.client();
    return forEach(this, args, async (id) => {
      const r = await client.containers.update(id, body);
      for (const w of r?.Warnings ?? []) this.warn(w);
    });
  }
}
