// The cgroups driver: picks v1 (also hybrid) or v2 from the layout.
import type { Cgroup } from './cgroup.ts';
import type { CgroupLayout } from './layout.ts';
import { CgroupV1 } from './v1.ts';
import { CgroupV2 } from './v2.ts';

export function openCgroup(layout: CgroupLayout, cgroupPath: string): Cgroup {
  return layout.mode === 'v2' ? new CgroupV2(layout, cgroupPath) : new CgroupV1(layout, cgroupPath);
}

export type { Cgroup } from './cgroup.ts';
export { detectCgroupLayout, cgroupPathFor, expandSlice, layoutFromMounts, parseCgroupMounts, type CgroupLayout, type CgroupMode } from './layout.ts';
export type { CgroupStats, MemoryEntry, BlkioEntry } from './stats.ts';
export { CgroupV1 } from './v1.ts';
export { CgroupV2, bpfDeviceRules, sharesToWeight } from './v2.ts';
