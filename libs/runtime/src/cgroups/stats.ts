// Resource usage of a container's cgroup, in runc's `events --stats` shape (libcontainer/cgroups Stats as
// runc prints it), so callers and berth-runc can pass it on as it is.

export interface MemoryEntry {
  limit: number;
  usage?: number;
  max?: number;
  failcnt: number;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface CgroupStats {
  cpu: {
    usage: { total: number; percpu?: number[]; kernel: number; user: number };
    throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  memory: {
    cache?: number;
    usage: MemoryEntry;
    swap?: MemoryEntry;
    kernel?: MemoryEntry;
    raw: Record<string, number>;
  };
  pids: { current: number; limit?: number };
  blkio: {
    ioServiceBytesRecursive?: BlkioEntry[];
    ioServicedRecursive?: BlkioEntry[];
  };
}

export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** Unlimited: v2's "max" becomes 2^64 (runc reports math.MaxUint64); v1 reports its own huge page-aligned value. */
export const UNLIMITED = 2 ** 64;

export function parseLimit(text: string): number {
  const t = text.trim();
  if (t === 'max' || t === '') return UNLIMITED;
  return Number(t);
}
