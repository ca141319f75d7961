// Where the cgroup hierarchies are: pure v2 (cgroup2 at /sys/fs/cgroup), hybrid (v1 controllers plus an empty
// cgroup2 at /sys/fs/cgroup/unified, as on this project's CI machine), or plain v1. Detected from statfs on
// /sys/fs/cgroup and /proc/self/mountinfo, as runc does.
import { readFileSync, statfsSync } from 'node:fs';

export type CgroupMode = 'v1' | 'hybrid' | 'v2';

export interface CgroupLayout {
  mode: CgroupMode;
  /** v1: every mounted hierarchy, keyed by its controllers as the kernel names them ("memory", "cpu,cpuacct", "name=systemd"). */
  hierarchies: { controllers: string[]; mountpoint: string }[];
  /** The cgroup2 mountpoint (v2: the root; hybrid: the `unified` mount). */
  unified?: string;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

const KNOWN_V1 = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'net_cls', 'net_prio', 'perf_event',
  'hugetlb', 'rdma', 'misc',
]);

/** Parses /proc/self/mountinfo for cgroup and cgroup2 mounts. */
export function parseCgroupMounts(mountinfo: string): { fstype: string; mountpoint: string; options: string[] }[] {
  const out: { fstype: string; mountpoint: string; options: string[] }[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const fstype = right[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mountpoint = (left[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ fstype, mountpoint, options: (right[2] ?? '').split(',') });
  }
  return out;
}

export function layoutFromMounts(mounts: ReturnType<typeof parseCgroupMounts>, rootIsCgroup2: boolean, root = '/sys/fs/cgroup'): CgroupLayout {
  if (rootIsCgroup2) return { mode: 'v2', hierarchies: [], unified: root };
  const hierarchies: CgroupLayout['hierarchies'] = [];
  let unified: string | undefined;
  for (const m of mounts) {
    if (m.fstype === 'cgroup2') {
      if (m.mountpoint.startsWith(`${root}/`)) unified = m.mountpoint;
      continue;
    }
    const controllers = m.options.filter((o) => KNOWN_V1.has(o) || o.startsWith('name='));
    if (controllers.length > 0 && !hierarchies.some((h) => h.mountpoint === m.mountpoint)) {
      hierarchies.push({ controllers, mountpoint: m.mountpoint });
    }
  }
  return { mode: unified ? 'hybrid' : 'v1', hierarchies, ...(unified ? { unified } : {}) };
}

let cached: CgroupLayout | undefined;

export function detectCgroupLayout(): CgroupLayout {
  if (cached) return cached;
  const isV2 = Number(statfsSync('/sys/fs/cgroup').type) === CGROUP2_SUPER_MAGIC;
  cached = layoutFromMounts(isV2 ? [] : parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8')), isV2);
  return cached;
}

/**
 * `linux.cgroupsPath` → a path relative to each hierarchy's root. Absolute paths are used as they are;
 * relative ones are placed under the root too (runc's cgroupfs driver); with the systemd driver the spec's
 * `slice:prefix:name` becomes `/<expanded slice>/<prefix>-<name>.scope`.
 */
export function cgroupPathFor(id: string, cgroupsPath: string | undefined, systemd = false): string {
  let p: string;
  if (systemd && cgroupsPath && /^[^/:]*:[^:]*:[^:]*$/.test(cgroupsPath)) {
    const [slice, prefix, name] = cgroupsPath.split(':') as [string, string, string];
    p = `${expandSlice(slice || 'system.slice')}/${prefix ? `${prefix}-` : ''}${name}.scope`;
  } else if (systemd && !cgroupsPath) {
    p = `/system.slice/berth-runc-${id}.scope`;
  } else {
    p = cgroupsPath ? (cgroupsPath.startsWith('/') ? cgroupsPath : `/${cgroupsPath}`) : `/${id}`;
  }
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw new Error(`cgroups path ${JSON.stringify(cgroupsPath)} must not contain ".."`);
  return `/${parts.join('/')}`;
}

/** "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice" (systemd's nesting of dashed slice names). */
export function expandSlice(slice: string): string {
  if (!slice.endsWith('.slice') || slice === '-.slice') return slice === '-.slice' ? '' : `/${slice}`;
  const base = slice.slice(0, -'.slice'.length);
  const parts = base.split('-');
  let acc = '';
  let out = '';
  for (const part of parts) {
    acc = acc ? `${acc}-${part}` : part;
    out += `/${acc}.slice`;
  }
  return out;
}
