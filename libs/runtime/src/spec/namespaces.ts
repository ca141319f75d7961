// Namespace types → clone flags and /proc/<pid>/ns/<name> file names.
import type { LinuxNamespaceType } from '@berth/oci';

export const CLONE = {
  NEWTIME: 0x80, NEWNS: 0x20000, NEWCGROUP: 0x2000000, NEWUTS: 0x4000000, NEWIPC: 0x8000000, NEWUSER: 0x10000000,
  NEWPID: 0x20000000, NEWNET: 0x40000000,
} as const;

export const NAMESPACES: Record<LinuxNamespaceType, { flag: number; file: string }> = {
  pid: { flag: CLONE.NEWPID, file: 'pid' },
  network: { flag: CLONE.NEWNET, file: 'net' },
  mount: { flag: CLONE.NEWNS, file: 'mnt' },
  ipc: { flag: CLONE.NEWIPC, file: 'ipc' },
  uts: { flag: CLONE.NEWUTS, file: 'uts' },
  user: { flag: CLONE.NEWUSER, file: 'user' },
  cgroup: { flag: CLONE.NEWCGROUP, file: 'cgroup' },
  time: { flag: CLONE.NEWTIME, file: 'time' },
};
