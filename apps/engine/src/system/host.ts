/** Facts about the host that `docker info` and `docker version` report, read once. */
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import os from 'node:os';

const CGROUP2_MAGIC = 0x63677270;

export interface HostFacts {
  cgroupVersion: '1' | '2';
  kernelVersion: string;
  operatingSystem: string;
  osVersion: string;
  architecture: string;
  ncpu: number;
  memTotal: number;
  hostname: string;
  swapLimit: boolean;
  ipv4Forwarding: boolean;
  bridgeNfIptables: boolean;
}

function read(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

export function cgroupVersion(): '1' | '2' {
  try {
    return statfsSync('/sys/fs/cgroup').type === CGROUP2_MAGIC ? '2' : '1';
  } catch {
    return '1';
  }
}

export function hostFacts(): HostFacts {
  const osRelease = read('/etc/os-release');
  const field = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(osRelease)?.[1] ?? '';
  const v = cgroupVersion();
  return {
    cgroupVersion: v,
    kernelVersion: os.release(),
    operatingSystem: field('PRETTY_NAME') || 'Linux',
    osVersion: field('VERSION_ID'),
    architecture: os.machine(),
    ncpu: os.cpus().length,
    memTotal: os.totalmem(),
    hostname: os.hostname(),
    swapLimit: v === '2' ? existsSync('/sys/fs/cgroup/memory.swap.max') || true : existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
    ipv4Forwarding: read('/proc/sys/net/ipv4/ip_forward').trim() === '1',
    bridgeNfIptables: read('/proc/sys/net/bridge/bridge-nf-call-iptables').trim() === '1',
  };
}
