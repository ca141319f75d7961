// RLIMIT_* names → resource numbers (asm-generic/resource.h) and JSON numbers → u64 (2^64-1 = unlimited).

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

export function rlimitNumber(type: string): number | undefined {
  return RLIMITS[type];
}

const U64_MAX = (1n << 64n) - 1n;

/** JSON cannot carry 2^64-1 exactly: anything at or above 2^63 is taken as RLIM_INFINITY. */
export function toU64(v: number): bigint {
  if (v < 0) return U64_MAX;
  if (v >= 2 ** 63) return U64_MAX;
  return BigInt(Math.trunc(v));
}
