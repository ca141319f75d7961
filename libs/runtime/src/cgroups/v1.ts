// cgroup v1 (and hybrid: v1 controllers plus the empty unified hierarchy, which the container joins too, as
// runc does). Limits go to the v1 controller files.
import type { LinuxResources } from '@berth/oci';
import { closeSync, existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { native } from '../native.ts';
import {
  type Cgroup, type JoinPlan, sleep, cgNumber, cgRead, cgReadOr, cgWrite, checkResources, mkdirAll, readPids, removeCgroupDir,
} from './cgroup.ts';
import type { CgroupLayout } from './layout.ts';
import { type BlkioEntry, type CgroupStats, parseKeyValues, parseLimit } from './stats.ts';

const USER_HZ = 100;

export class CgroupV1 implements Cgroup {
  readonly layout: CgroupLayout;
  readonly path: string;

  constructor(layout: CgroupLayout, cgroupPath: string) {
    this.layout = layout;
    this.path = cgroupPath;
  }

  /** The directory of the hierarchy that carries `controller`, if it is mounted. */
  dir(controller: string): string | undefined {
    const h = this.layout.hierarchies.find((x) => x.controllers.includes(controller));
    return h ? path.join(h.mountpoint, this.path) : undefined;
  }

  dirs(): string[] {
    const out = this.layout.hierarchies.map((h) => path.join(h.mountpoint, this.path));
    if (this.layout.unified) out.push(path.join(this.layout.unified, this.path));
    return out;
  }

  procsFiles(): string[] {
    return this.dirs().map((d) => path.join(d, 'cgroup.procs'));
  }

  joinPlan(resources?: LinuxResources): JoinPlan {
    // While it lives the helper counts against a pids limit (one more process than the container asked for):
    // under a limit, the pids hierarchy gets the child by pid instead, and pays the grace period.
    const pids = this.dir('pids');
    const limited = pids !== undefined && (resources
      ? (resources.pids?.limit ?? 0) > 0
      : cgReadOr(pids, 'pids.max', 'max').trim() !== 'max');
    const plan: JoinPlan = { tasks: [], procs: [] };
    for (const h of this.layout.hierarchies) {
      const dir = path.join(h.mountpoint, this.path);
      if (limited && h.controllers.includes('pids')) plan.procs.push(path.join(dir, 'cgroup.procs'));
      else plan.tasks.push(path.join(dir, 'tasks'));
    }
    if (this.layout.unified) plan.cgroupDir = path.join(this.layout.unified, this.path);
    return plan;
  }

  create(resources?: LinuxResources): void {
    checkResources(resources);
    for (const h of this.layout.hierarchies) {
      mkdirAll(path.join(h.mountpoint, this.path));
      if (h.controllers.includes('cpuset')) this.inheritCpuset(h.mountpoint);
    }
    if (this.layout.unified) mkdirAll(path.join(this.layout.unified, this.path));
    if (resources) this.update(resources);
  }

  /** A new v1 cpuset cgroup starts with empty cpus/mems and cannot take tasks until they are copied from its parent. */
  private inheritCpuset(mountpoint: string): void {
    let dir = mountpoint;
    for (const part of this.path.split('/').filter(Boolean)) {
      const parent = dir;
      dir = path.join(dir, part);
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        if (cgReadOr(dir, f, '').trim() === '') cgWrite(dir, f, cgReadOr(parent, f, '').trim());
      }
    }
  }

  update(r: LinuxResources): void {
    checkResources(r);
    const mem = this.dir('memory');
    if (r.memory && mem) {
      const m = r.memory;
      const writes: [string, string][] = [];
      if (m.limit !== undefined && m.limit !== 0) writes.push(['memory.limit_in_bytes', String(m.limit < 0 ? -1 : m.limit)]);
      if (m.swap !== undefined && m.swap !== 0 && existsSync(path.join(mem, 'memory.memsw.limit_in_bytes'))) {
        writes.push(['memory.memsw.limit_in_bytes', String(m.swap < 0 ? -1 : m.swap)]);
      }
      // memsw must stay >= limit at every step: try one order, then the other.
      try {
        for (const [f, v] of writes) cgWrite(mem, f, v);
      } catch (err) {
        if (writes.length < 2) throw err;
        for (const [f, v] of [...writes].reverse()) cgWrite(mem, f, v);
      }
      if (m.reservation !== undefined && m.reservation !== 0) cgWrite(mem, 'memory.soft_limit_in_bytes', m.reservation < 0 ? -1 : m.reservation);
      if (m.swappiness !== undefined && m.swappiness >= 0 && m.swappiness <= 100) cgWrite(mem, 'memory.swappiness', m.swappiness);
      if (m.disableOOMKiller) cgWrite(mem, 'memory.oom_control', 1);
    }
    const cpu = this.dir('cpu');
    if (r.cpu && cpu) {
      const c = r.cpu;
      if (c.shares) cgWrite(cpu, 'cpu.shares', c.shares);
      if (c.period) cgWrite(cpu, 'cpu.cfs_period_us', c.period);
      if (c.quota !== undefined && c.quota !== 0) cgWrite(cpu, 'cpu.cfs_quota_us', c.quota < 0 ? -1 : c.quota);
      if (c.realtimePeriod) cgWrite(cpu, 'cpu.rt_period_us', c.realtimePeriod);
      if (c.realtimeRuntime) cgWrite(cpu, 'cpu.rt_runtime_us', c.realtimeRuntime);
    }
    const cpuset = this.dir('cpuset');
    if (r.cpu && cpuset) {
      if (r.cpu.cpus) cgWrite(cpuset, 'cpuset.cpus', r.cpu.cpus);
      if (r.cpu.mems) cgWrite(cpuset, 'cpuset.mems', r.cpu.mems);
    }
    const pids = this.dir('pids');
    if (r.pids && pids) cgWrite(pids, 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
    const blkio = this.dir('blkio');
    if (r.blockIO && blkio) {
      const b = r.blockIO;
      if (b.weight) cgWrite(blkio, existsSync(path.join(blkio, 'blkio.weight')) ? 'blkio.weight' : 'blkio.bfq.weight', b.weight);
      for (const d of b.weightDevice ?? []) if (d.weight) cgWrite(blkio, 'blkio.weight_device', `${d.major}:${d.minor} ${d.weight}`);
      const throttles: [keyof typeof b, string][] = [
        ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'], ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
        ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'], ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
      ];
      for (const [key, file] of throttles) {
        for (const d of (b[key] as { major: number; minor: number; rate: number }[] | undefined) ?? []) {
          cgWrite(blkio, file, `${d.major}:${d.minor} ${d.rate}`);
        }
      }
    }
    const devices = this.dir('devices');
    if (r.devices && devices) {
      // An allow rule repeated with no deny in between changes nothing (a spec's defaults and the runtime's
      // own list overlap: ~10 of ~20 writes); a deny may revoke, so it forgets what was allowed before it.
      const allowed = new Set<string>();
      for (const d of r.devices) {
        const num = (v: number | null | undefined) => (v == null || v < 0 ? '*' : String(v));
        const rule = `${d.type ?? 'a'} ${num(d.major)}:${num(d.minor)} ${d.access || 'rwm'}`;
        if (d.allow) {
          if (allowed.has(rule)) continue;
          allowed.add(rule);
        } else {
          allowed.clear();
        }
        cgWrite(devices, d.allow ? 'devices.allow' : 'devices.deny', rule);
      }
    }
    const hugetlb = this.dir('hugetlb');
    if (r.hugepageLimits && hugetlb) {
      for (const h of r.hugepageLimits) cgWrite(hugetlb, `hugetlb.${h.pageSize}.limit_in_bytes`, h.limit);
    }
    const netCls = this.dir('net_cls');
    if (r.network?.classID !== undefined && netCls) cgWrite(netCls, 'net_cls.classid', r.network.classID);
  }

  pids(): number[] {
    const dir = this.dir('pids') ?? this.dir('memory') ?? this.dir('freezer') ?? this.dirs()[0];
    return dir ? readPids(dir) : [];
  }

  async freeze(): Promise<void> {
    const dir = this.dir('freezer');
    if (!dir) throw new Error('the freezer cgroup controller is not mounted');
    // The kernel may stay in FREEZING while tasks are busy; re-requesting FROZEN nudges it, as runc does.
    for (let i = 0, delay = 1; i < 1000; i++, delay = Math.min(delay * 2, 20)) {
      cgWrite(dir, 'freezer.state', 'FROZEN');
      if (cgRead(dir, 'freezer.state').trim() === 'FROZEN') return;
      await sleep(delay);
    }
    cgWrite(dir, 'freezer.state', 'THAWED');
    throw new Error(`freeze ${dir}: the cgroup did not freeze`);
  }

  async thaw(): Promise<void> {
    const dir = this.dir('freezer');
    if (!dir) throw new Error('the freezer cgroup controller is not mounted');
    cgWrite(dir, 'freezer.state', 'THAWED');
  }

  isFrozen(): boolean {
    const dir = this.dir('freezer');
    return dir !== undefined && cgReadOr(dir, 'freezer.state', '').trim() === 'FROZEN';
  }

  stats(): CgroupStats {
    const mem = this.dir('memory');
    const cpuacct = this.dir('cpuacct');
    const cpu = this.dir('cpu');
    const pids = this.dir('pids');
    const blkio = this.dir('blkio');
    const entry = (prefix: string) => (mem ? {
      usage: cgNumber(mem, `${prefix}.usage_in_bytes`), max: cgNumber(mem, `${prefix}.max_usage_in_bytes`),
      limit: parseLimit(cgReadOr(mem, `${prefix}.limit_in_bytes`, 'max')), failcnt: cgNumber(mem, `${prefix}.failcnt`),
    } : { usage: 0, max: 0, limit: 0, failcnt: 0 });
    const raw = mem ? parseKeyValues(cgReadOr(mem, 'memory.stat', '')) : {};
    const cpuStat = cpuacct ? parseKeyValues(cgReadOr(cpuacct, 'cpuacct.stat', '')) : {};
    const throttle = cpu ? parseKeyValues(cgReadOr(cpu, 'cpu.stat', '')) : {};
    const blk = (file: string): BlkioEntry[] => {
      if (!blkio) return [];
      const out: BlkioEntry[] = [];
      for (const line of cgReadOr(blkio, file, '').split('\n')) {
        const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
        if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
      }
      return out;
    };
    return {
      cpu: {
        usage: {
          total: cpuacct ? cgNumber(cpuacct, 'cpuacct.usage') : 0,
          percpu: cpuacct ? cgReadOr(cpuacct, 'cpuacct.usage_percpu', '').trim().split(/\s+/).filter(Boolean).map(Number) : [],
          kernel: ((cpuStat.system ?? 0) * 1e9) / USER_HZ,
          user: ((cpuStat.user ?? 0) * 1e9) / USER_HZ,
        },
        throttling: {
          periods: throttle.nr_periods ?? 0, throttledPeriods: throttle.nr_throttled ?? 0, throttledTime: throttle.throttled_time ?? 0,
        },
      },
      memory: {
        cache: raw.total_cache ?? raw.cache ?? 0,
        usage: entry('memory'),
        swap: entry('memory.memsw'),
        kernel: entry('memory.kmem'),
        raw,
      },
      pids: {
        current: pids ? cgNumber(pids, 'pids.current') : 0,
        limit: pids ? (cgReadOr(pids, 'pids.max', 'max').trim() === 'max' ? 0 : cgNumber(pids, 'pids.max')) : 0,
      },
      blkio: {
        ioServiceBytesRecursive: blk('blkio.throttle.io_service_bytes_recursive'),
        ioServicedRecursive: blk('blkio.throttle.io_serviced_recursive'),
      },
    };
  }

  /** v1 OOM notification: an eventfd registered with cgroup.event_control against memory.oom_control. */
  watchOom(onOom: () => void): () => void {
    const mem = this.dir('memory');
    if (!mem) return () => {};
    const n = native();
    const efd = n.eventfd();
    const ctl = openSync(path.join(mem, 'memory.oom_control'), 'r');
    let closed = false;
    let watcher: InstanceType<typeof n.FdWatcher> | undefined;
    const close = () => {
      if (closed) return;
      closed = true;
      watcher?.close();
      closeSync(efd);
      closeSync(ctl);
    };
    try {
      cgWrite(mem, 'cgroup.event_control', `${efd} ${ctl}`);
      watcher = new n.FdWatcher(efd, () => {
        n.readEventfd(efd);
        // The kernel also signals the eventfd when the cgroup is removed.
        if (!existsSync(mem)) close();
        else onOom();
      });
      watcher.unref();
    } catch (err) {
      close();
      throw err;
    }
    return close;
  }

  oomKillCount(): number {
    const mem = this.dir('memory');
    return mem ? (parseKeyValues(cgReadOr(mem, 'memory.oom_control', '')).oom_kill ?? 0) : 0;
  }

  async destroy(): Promise<void> {
    for (const d of this.dirs()) await removeCgroupDir(d);
  }
}
