// `stats` rows (docker's formatter_stats.go): CPU and memory percentages from two samples, I/O totals.
import type { ContainerStats } from '@berth/docker-api';
import { STRICT } from '../format/formatter.ts';
import { bytesSize, humanSize } from '../format/units.ts';
import { truncateId } from '../lib/ids.ts';

export const STATS_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
export const STATS_HEADERS: Record<string, string> = {
  Container: 'CONTAINER', ID: 'CONTAINER ID', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %',
  NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};

export interface StatsEntry {
  container: string;
  id: string;
  name: string;
  cpuPercent: number;
  memory: number;
  memoryLimit: number;
  memoryPercent: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
  /** No sample yet (or the container is not running). */
  empty: boolean;
}

export function emptyEntry(container: string, id: string, name: string): StatsEntry {
  return {
    container, id, name, cpuPercent: 0, memory: 0, memoryLimit: 0, memoryPercent: 0, netRx: 0, netTx: 0, blockRead: 0, blockWrite: 0,
    pids: 0, empty: true,
  };
}

export function entryFromSample(container: string, s: ContainerStats): StatsEntry {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const online = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 1;
  const cpuPercent = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
  const m = s.memory_stats ?? {};
  let mem = m.usage ?? 0;
  const st = m.stats ?? {};
  const inactive = st.total_inactive_file ?? st.inactive_file;
  if (inactive !== undefined && inactive < mem) mem -= inactive;
  const limit = m.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  let read = 0;
  let write = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') read += e.value;
    if (op === 'write') write += e.value;
  }
  return {
    container, id: s.id ?? container, name: (s.name ?? '').replace(/^\//, ''), cpuPercent, memory: mem, memoryLimit: limit,
    memoryPercent: limit > 0 ? (mem / limit) * 100 : 0, netRx: rx, netTx: tx, blockRead: read, blockWrite: write,
    pids: s.pids_stats?.current ?? 0, empty: false,
  };
}

export class StatsContext {
  readonly [STRICT] = '*container.statsContext';
  private readonly e: StatsEntry;
  private readonly trunc: boolean;

  constructor(e: StatsEntry, trunc: boolean) {
    this.e = e;
    this.trunc = trunc;
  }

  Container(): string {
    return this.e.container;
  }

  ID(): string {
    return this.trunc ? truncateId(this.e.id) : this.e.id;
  }

  Name(): string {
    return this.e.name || '--';
  }

  CPUPerc(): string {
    return this.e.empty ? '--' : `${this.e.cpuPercent.toFixed(2)}%`;
  }

  MemUsage(): string {
    return this.e.empty ? '-- / --' : `${bytesSize(this.e.memory)} / ${bytesSize(this.e.memoryLimit)}`;
  }

  MemPerc(): string {
    return this.e.empty ? '--' : `${this.e.memoryPercent.toFixed(2)}%`;
  }

  NetIO(): string {
    return this.e.empty ? '--' : `${humanSize(this.e.netRx, 3)} / ${humanSize(this.e.netTx, 3)}`;
  }

  BlockIO(): string {
    return this.e.empty ? '--' : `${humanSize(this.e.blockRead, 3)} / ${humanSize(this.e.blockWrite, 3)}`;
  }

  PIDs(): string {
    return this.e.empty ? '--' : String(this.e.pids);
  }

  toJSON(): Record<string, string> {
    return {
      BlockIO: this.BlockIO(), CPUPerc: this.CPUPerc(), Container: this.Container(), ID: this.ID(), MemPerc: this.MemPerc(),
      MemUsage: this.MemUsage(), Name: this.Name(), NetIO: this.NetIO(), PIDs: this.PIDs(),
    };
  }
}
