// Capability names → bit masks (linux/capability.h). Names the kernel does not know are reported, not fatal:
// runc warns and drops them too, and specs written for newer kernels must still run.

const CAPS = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

export const CAPABILITY_NAMES: readonly string[] = CAPS.map((c) => `CAP_${c}`);

export function capabilityNumber(name: string): number | undefined {
  const i = CAPABILITY_NAMES.indexOf(name.toUpperCase().startsWith('CAP_') ? name.toUpperCase() : `CAP_${name.toUpperCase()}`);
  return i < 0 ? undefined : i;
}

export function capabilityMask(names: readonly string[] | undefined, unknown: Set<string>): bigint {
  let mask = 0n;
  for (const n of names ?? []) {
    const bit = capabilityNumber(n);
    if (bit === undefined) unknown.add(n);
    else mask |= 1n << BigInt(bit);
  }
  return mask;
}

/** Decodes a CapEff-style hex mask into names (used by tests and `berth-runc features`). */
export function capabilityNames(mask: bigint): string[] {
  return CAPABILITY_NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}
