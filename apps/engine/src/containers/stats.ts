/**
 * `GET /containers/{id}/stats`: samples read straight from the container's cgroups (v1 controllers, or the
 * unified v2 hierarchy) and its network namespace, in Docker's shape, once or every second.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ContainerStats, CpuStats } from '@berth/docker-api';
import { qbool, queryOf } from '../api/query.ts';
import { apiVersionOf } from '../api/version.ts';
import type { Engine } from '../engine.ts';
import type { Container } from './container.ts';

const CG = '/sys/fs/cgroup';
const ZERO_TIME = '0001-01-01T00:00:00Z';

function read(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

function num(p: string): number | undefined {
  const v = read(p)?.trim();
  if (v === undefined || v === '' || v === 'max') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function kv(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

/** Host CPU time in nanoseconds (the sum of /proc/stat's first line, USER_HZ = 100). */
function systemCpuUsage(): number {
  const line = read('/proc/stat')?.split('\n')[0] ?? '';
  const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((a, b) => a + Number(b), 0);
  return ticks * 10_000_000;
}

function networks(pid: number): ContainerStats['networks'] {
  const text = pid > 0 ? read(`/proc/${pid}/net/dev`) : undefined;
  if (!text) return undefined;
  const out: NonNullable<ContainerStats['networks']> = {};
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = {
      rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!,
      tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]!,
    };
  }
  return out;
}

/** One sample of a container's cgroup (`path` is its cgroups path, e.g. `/berth/<id>`). */
export function sample(path: string, version: '1' | '2', pid: number): Omit<ContainerStats, 'read' | 'preread' | 'precpu_stats'> {
  const online = cpus().length;
  if (version === '2') {
    const dir = `${CG}${path}`;
    const cpu = kv(read(`${dir}/cpu.stat`));
    const mem = kv(read(`${dir}/memory.stat`));
    const io = read(`${dir}/io.stat`) ?? '';
    const ioBytes: { major: number; minor: number; op: string; value: number }[] = [];
    for (const line of io.split('\n')) {
      const m = /^(\d+):(\d+)\s+(.*)$/.exec(line.trim());
      if (!m) continue;
      const f = Object.fromEntries(m[3]!.split(/\s+/).map((x) => x.split('=') as [string, string]));
      ioBytes.push({ major: Number(m[1]), minor: Number(m[2]), op: 'read', value: Number(f.rbytes ?? 0) });
      ioBytes.push({ major: Number(m[1]), minor: Number(m[2]), op: 'write', value: Number(f.wbytes ?? 0) });
    }
    return {
      pids_stats: { current: num(`${dir}/pids.current`) ?? 0, ...(num(`${dir}/pids.max`) !== undefined ? { limit: num(`${dir}/pids.max`)! } : {}) },
      blkio_stats: { io_service_bytes_recursive: ioBytes, io_serviced_recursive: null },
      num_procs: 0,
      cpu_stats: {
        cpu_usage: {
          total_usage: (cpu.usage_usec ?? 0) * 1000, usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000,
          usage_in_usermode: (cpu.user_usec ?? 0) * 1000,
        },
        system_cpu_usage: systemCpuUsage(),
        online_cpus: online,
        throttling_data: {
          periods: cpu.nr_periods ?? 0, throttled_periods: cpu.nr_throttled ?? 0, throttled_time: (cpu.throttled_usec ?? 0) * 1000,
        },
      },
      memory_stats: {
        usage: num(`${dir}/memory.current`) ?? 0,
        stats: mem,
        limit: num(`${dir}/memory.max`) ?? Number(read('/proc/meminfo')?.match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) * 1024,
      },
      ...(networks(pid) ? { networks: networks(pid)! } : {}),
    };
  }
  const c = (ctl: string, file: string) => `${CG}/${ctl}${path}/${file}`;
  const cpuacct = kv(read(c('cpuacct', 'cpuacct.stat')));
  const cpuStat = kv(read(c('cpu', 'cpu.stat')));
  const percpu = (read(c('cpuacct', 'cpuacct.usage_percpu')) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const blk = (file: string) => (read(c('blkio', file)) ?? '').split('\n').flatMap((line) => {
    const m = /^(\d+):(\d+)\s+(\w+)\s+(\d+)$/.exec(line.trim());
    return m ? [{ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) }] : [];
  });
  const limit = num(c('memory', 'memory.limit_in_bytes'));
  return {
    pids_stats: { current: num(c('pids', 'pids.current')) ?? 0, ...(num(c('pids', 'pids.max')) !== undefined ? { limit: num(c('pids', 'pids.max'))! } : {}) },
    blkio_stats: { io_service_bytes_recursive: blk('blkio.throttle.io_service_bytes_recursive'), io_serviced_recursive: blk('blkio.throttle.io_serviced_recursive') },
    num_procs: 0,
    cpu_stats: {
      cpu_usage: {
        total_usage: num(c('cpuacct', 'cpuacct.usage')) ?? 0,
        percpu_usage: percpu,
        usage_in_kernelmode: (cpuacct.system ?? 0) * 10_000_000,
        usage_in_usermode: (cpuacct.user ?? 0) * 10_000_000,
      },
      system_cpu_usage: systemCpuUsage(),
      online_cpus: online,
      throttling_data: {
        periods: cpuStat.nr_periods ?? 0, throttled_periods: cpuStat.nr_throttled ?? 0, throttled_time: cpuStat.throttled_time ?? 0,
      },
    },
    memory_stats: {
      usage: num(c('memory', 'memory.usage_in_bytes')) ?? 0,
      max_usage: num(c('memory', 'memory.max_usage_in_bytes')) ?? 0,
      stats: kv(read(c('memory', 'memory.stat'))),
      failcnt: num(c('memory', 'memory.failcnt')) ?? 0,
      limit: limit !== undefined && limit < 2 ** 62 ? limit : Number(read('/proc/meminfo')?.match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) * 1024,
    },
    ...(networks(pid) ? { networks: networks(pid)! } : {}),
  };
}

const emptyCpu = (): CpuStats => ({
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

export async function containerStats(engine: Engine, c: Container, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const q = queryOf(request);
  const stream = qbool(q, 'stream', true);
  const oneShot = qbool(q, 'one-shot');
  const cgroupsPath = `${c.rec.HostConfig.CgroupParent || engine.config.cgroupParent}/${c.id}`.replace(/\/+/g, '/');
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': apiVersionOf(request.raw) });
  const base = { id: c.id, name: c.rec.Name };
  if (!c.hasTask) {
    const zero: ContainerStats = {
      ...base, read: ZERO_TIME, preread: ZERO_TIME, pids_stats: {},
      blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null },
      num_procs: 0, cpu_stats: emptyCpu(), precpu_stats: emptyCpu(), memory_stats: {},
    };
    res.end(JSON.stringify(zero) + '\n');
    return;
  }
  let closed = false;
  res.on('close', () => (closed = true));
  let prev: { read: string; cpu: CpuStats } = { read: ZERO_TIME, cpu: emptyCpu() };
  const take = () => {
    const s = sample(cgroupsPath, engine.host.cgroupVersion, c.rec.State.Pid);
    const now = new Date().toISOString();
    const out: ContainerStats = { ...base, read: now, preread: prev.read, ...s, precpu_stats: prev.cpu };
    prev = { read: now, cpu: s.cpu_stats };
    return out;
  };
  if (!stream && !oneShot) {
    take();
    await new Promise((r) => setTimeout(r, 1000));
  }
  for (;;) {
    if (closed) return;
    const s = take();
    if (!stream) {
      res.end(JSON.stringify(s) + '\n');
      return;
    }
    res.write(JSON.stringify(s) + '\n');
    await new Promise((r) => setTimeout(r, 1000));
    if (!c.hasTask) {
      res.end();
      return;
    }
  }
}
