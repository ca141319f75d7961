// cgroup v2 (unified). Limits map to the v2 files as runc converts them (cpu.weight from shares, memory.swap.max
// = swap - limit); device rules become a BPF device program attached to the container's cgroup.
import type { LinuxDeviceCgroup, LinuxResources } from '@berth/oci';
import { existsSync, watch } from 'node:fs';
import path from 'node:path';
import {
  type Cgroup, type JoinPlan, sleep, cgNumber, cgReadOr, cgWrite, checkResources, mkdirAll, readPids, removeCgroupDir,
} from './cgroup.ts';
import { native } from '../native.ts';
import type { CgroupLayout } from './layout.ts';
import { type BlkioEntry, type CgroupStats, parseKeyValues, parseLimit } from './stats.ts';

const WANTED = ['cpuset', 'cpu', 'io', 'memory', 'pids', 'hugetlb'];

/** Spec device rules → the addon's BPF rule form (access bits: m 1, r 2, w 4; -1 = any). */
export interface BpfDeviceRule { type: 'a' | 'b' | 'c'; major: number; minor: number; access: number; allow: boolean }

export function bpfDeviceRules(rules: LinuxDeviceCgroup[]): BpfDeviceRule[] {
  return rules.map((d): BpfDeviceRule => {
    const access = d.access ? [...d.access].reduce((a, c) => a | (c === 'm' ? 1 : c === 'r' ? 2 : c === 'w' ? 4 : 0), 0) : 7;
    const type = d.type === 'b' ? 'b' : d.type === 'c' || d.type === 'u' ? 'c' : 'a';
    const any = (v: number | null | undefined) => (v == null || v < 0 ? -1 : v);
    return { type, major: any(d.major), minor: any(d.minor), access, allow: d.allow };
  });
}

/** runc's conversion of v1 cpu.shares [2, 262144] to v2 cpu.weight [1, 10000]. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

export class CgroupV2 implements Cgroup {
  readonly layout: CgroupLayout;
  readonly path: string;
  private readonly root: string;
  readonly dir: string;

  constructor(layout: CgroupLayout, cgroupPath: string) {
    this.layout = layout;
    this.path = cgroupPath;
    this.root = layout.unified!;
    this.dir = path.join(this.root, cgroupPath);
  }

  dirs(): string[] {
    return [this.dir];
  }

  procsFiles(): string[] {
    return [path.join(this.dir, 'cgroup.procs')];
  }

  joinPlan(): JoinPlan {
    return { tasks: [], procs: [], cgroupDir: this.dir };
  }

  create(resources?: LinuxResources): void {
    checkResources(resources);
    mkdirAll(this.dir);
    // Controllers must be enabled in every ancestor's subtree_control for the leaf to have them.
    let dir = this.root;
    for (const part of this.path.split('/').filter(Boolean)) {
      const available = cgReadOr(dir, 'cgroup.controllers', '').trim().split(/\s+/).filter(Boolean);
      const enable = WANTED.filter((c) => available.includes(c));
      if (enable.length > 0) {
        const enabled = cgReadOr(dir, 'cgroup.subtree_control', '').trim().split(/\s+/);
        const missing = enable.filter((c) => !enabled.includes(c));
        if (missing.length > 0) cgWrite(dir, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '));
      }
      dir = path.join(dir, part);
    }
    if (resources) this.update(resources);
  }

  update(r: LinuxResources): void {
    checkResources(r);
    const d = this.dir;
    const m = r.memory;
    if (m) {
      if (m.limit !== undefined && m.limit !== 0) cgWrite(d, 'memory.max', m.limit < 0 ? 'max' : m.limit);
      if (m.swap !== undefined && m.swap !== 0) {
        // v1 semantics in the spec: swap = memory + swap
        const swap = m.swap < 0 ? 'max' : m.limit !== undefined && m.limit > 0 ? m.swap - m.limit : m.swap;
        if (existsSync(path.join(d, 'memory.swap.max')) || !existsSync(path.join(d, 'memory.max'))) cgWrite(d, 'memory.swap.max', swap);
      }
      if (m.reservation !== undefined && m.reservation !== 0) cgWrite(d, 'memory.low', m.reservation < 0 ? 'max' : m.reservation);
    }
    const c = r.cpu;
    if (c) {
      if (c.shares) cgWrite(d, 'cpu.weight', sharesToWeight(c.shares));
      if ((c.quota !== undefined && c.quota !== 0) || c.period) {
        const period = c.period || 100000;
        const quota = c.quota === undefined || c.quota === 0 ? cgReadOr(d, 'cpu.max', 'max').trim().split(' ')[0] : c.quota < 0 ? 'max' : c.quota;
        cgWrite(d, 'cpu.max', `${quota} ${period}`);
      }
      if (c.cpus) cgWrite(d, 'cpuset.cpus', c.cpus);
      if (c.mems) cgWrite(d, 'cpuset.mems', c.mems);
      if (c.idle !== undefined) cgWrite(d, 'cpu.idle', c.idle);
    }
    if (r.pids) cgWrite(d, 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
    const b = r.blockIO;
    if (b) {
      if (b.weight) cgWrite(d, 'io.weight', `default ${b.weight}`);
      for (const w of b.weightDevice ?? []) if (w.weight) cgWrite(d, 'io.weight', `${w.major}:${w.minor} ${w.weight}`);
      const keys: [keyof typeof b, string][] = [
        ['throttleReadBpsDevice', 'rbps'], ['throttleWriteBpsDevice', 'wbps'], ['throttleReadIOPSDevice', 'riops'],
        ['throttleWriteIOPSDevice', 'wiops'],
      ];
      for (const [key, name] of keys) {
        for (const t of (b[key] as { major: number; minor: number; rate: number }[] | undefined) ?? []) {
          cgWrite(d, 'io.max', `${t.major}:${t.minor} ${name}=${t.rate || 'max'}`);
        }
      }
    }
    for (const h of r.hugepageLimits ?? []) cgWrite(d, `hugetlb.${h.pageSize}.max`, h.limit);
    if (r.devices) native().attachDeviceFilter(d, bpfDeviceRules(r.devices));
    for (const [file, value] of Object.entries(r.unified ?? {})) {
      if (file.includes('/') || file.startsWith('.')) throw new Error(`linux.resources.unified: bad file name ${JSON.stringify(file)}`);
      cgWrite(d, file, value);
    }
  }

  pids(): number[] {
    return readPids(this.dir);
  }

  async freeze(): Promise<void> {
    cgWrite(this.dir, 'cgroup.freeze', 1);
    for (let i = 0, delay = 1; i < 500; i++, delay = Math.min(delay * 2, 20)) {
      if (parseKeyValues(cgReadOr(this.dir, 'cgroup.events', 'frozen 1')).frozen === 1) return;
      await sleep(delay);
    }
    throw new Error(`freeze ${this.dir}: the cgroup did not freeze`);
  }

  async thaw(): Promise<void> {
    cgWrite(this.dir, 'cgroup.freeze', 0);
  }

  isFrozen(): boolean {
    return cgReadOr(this.dir, 'cgroup.freeze', '0').trim() === '1';
  }

  stats(): CgroupStats {
    const d = this.dir;
    const raw = parseKeyValues(cgReadOr(d, 'memory.stat', ''));
    const cpu = parseKeyValues(cgReadOr(d, 'cpu.stat', ''));
    const io: BlkioEntry[] = [];
    const ops: BlkioEntry[] = [];
    for (const line of cgReadOr(d, 'io.stat', '').split('\n')) {
      const [dev, ...fields] = line.trim().split(/\s+/);
      const mm = /^(\d+):(\d+)$/.exec(dev ?? '');
      if (!mm) continue;
      const kv = Object.fromEntries(fields.map((f) => f.split('=') as [string, string]));
      const major = Number(mm[1]);
      const minor = Number(mm[2]);
      io.push({ major, minor, op: 'Read', value: Number(kv.rbytes ?? 0) }, { major, minor, op: 'Write', value: Number(kv.wbytes ?? 0) });
      ops.push({ major, minor, op: 'Read', value: Number(kv.rios ?? 0) }, { major, minor, op: 'Write', value: Number(kv.wios ?? 0) });
    }
    const events = parseKeyValues(cgReadOr(d, 'memory.events', ''));
    return {
      cpu: {
        usage: { total: (cpu.usage_usec ?? 0) * 1000, kernel: (cpu.system_usec ?? 0) * 1000, user: (cpu.user_usec ?? 0) * 1000 },
        throttling: {
          periods: cpu.nr_periods ?? 0, throttledPeriods: cpu.nr_throttled ?? 0, throttledTime: (cpu.throttled_usec ?? 0) * 1000,
        },
      },
      memory: {
        cache: raw.file ?? 0,
        usage: {
          usage: cgNumber(d, 'memory.current'), max: cgNumber(d, 'memory.peak'),
          limit: parseLimit(cgReadOr(d, 'memory.max', 'max')), failcnt: events.max ?? 0,
        },
        swap: { usage: cgNumber(d, 'memory.swap.current'), limit: parseLimit(cgReadOr(d, 'memory.swap.max', 'max')), failcnt: 0 },
        raw,
      },
      pids: {
        current: cgNumber(d, 'pids.current'),
        limit: cgReadOr(d, 'pids.max', 'max').trim() === 'max' ? 0 : cgNumber(d, 'pids.max'),
      },
      blkio: { ioServiceBytesRecursive: io, ioServicedRecursive: ops },
    };
  }

  /** v2: memory.events' oom_kill counter, watched with inotify (cgroupfs notifies on .events files). */
  watchOom(onOom: () => void): () => void {
    const file = path.join(this.dir, 'memory.events');
    let last = this.oomKillCount();
    const watcher = watch(file, { persistent: false }, () => {
      const now = this.oomKillCount();
      if (now > last) onOom();
      last = now;
    });
    watcher.on('error', () => watcher.close());
    return () => watcher.close();
  }

  oomKillCount(): number {
    return parseKeyValues(cgReadOr(this.dir, 'memory.events', '')).oom_kill ?? 0;
  }

  async destroy(): Promise<void> {
    await removeCgroupDir(this.dir);
  }
}
