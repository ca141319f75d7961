/**
 * The OCI runtime spec of a Docker container: Docker's `Config`/`HostConfig` (already merged with the image's
 * config) turned into namespaces, mounts, process, capabilities, seccomp, resources, devices and rlimits, with
 * Docker's defaults and Docker's validation messages.
 */
import { readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { HostConfig, ContainerConfig } from '@berth/docker-api';
import { InvalidArgumentError } from '@berth/errdefs';
import {
  RuntimeSpecVersion, type LinuxDevice, type LinuxDeviceCgroup, type LinuxNamespace, type LinuxResources,
  type LinuxSeccomp, type Mount, type POSIXRlimit, type RuntimeSpec,
} from '@berth/oci';
import type { NetworkAttachment } from '../extensions.ts';
import {
  ALL_CAPABILITIES, DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultDeviceRules, defaultMounts,
  normalizeCapability,
} from './defaults.ts';
import { defaultSeccompProfile, profileFromDockerJson } from './seccomp.ts';
import type { ResolvedUser } from './user.ts';

/** Where Docker mounts its init inside the container. */
export const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';

export interface SpecInput {
  id: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** The command: entrypoint + cmd, already merged. */
  args: string[];
  env: string[];
  user: ResolvedUser;
  network: NetworkAttachment;
  /** The user's mounts (binds, volumes, tmpfs) as OCI mounts. */
  mounts: Mount[];
  /** `<parent>/<id>` */
  cgroupsPath: string;
  /** Host path of the init binary when the container runs with an init. */
  initBinary?: string;
  /** Namespace paths of other containers for `container:<id>` IPC and PID modes. */
  ipcNsPath?: string;
  pidNsPath?: string;
  daemon: {
    noNewPrivileges: boolean; seccompProfile?: unknown; cgroupV2: boolean;
    defaultUlimits: Record<string, { Name: string; Soft: number; Hard: number }>;
  };
}

/** Capabilities after Docker's `--cap-add`/`--cap-drop` rules (`ALL` allowed in both). */
export function effectiveCapabilities(hc: HostConfig): string[] {
  if (hc.Privileged) return [...ALL_CAPABILITIES];
  const adds = (hc.CapAdd ?? []).map(normalizeCapability);
  const drops = (hc.CapDrop ?? []).map(normalizeCapability);
  for (const c of [...adds, ...drops]) {
    if (c !== 'ALL' && !(ALL_CAPABILITIES as readonly string[]).includes(c)) throw new InvalidArgumentError(`unknown capability: "${c}"`);
  }
  if (adds.length === 0 && drops.length === 0) return [...DEFAULT_CAPABILITIES];
  let caps: string[];
  if (adds.includes('ALL')) caps = ALL_CAPABILITIES.filter((c) => !drops.includes(c));
  else if (drops.includes('ALL')) caps = adds;
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds];
  caps = [...new Set(caps)];
  return caps;
}

/** `--security-opt` values. */
export interface SecurityOpts { seccomp: 'default' | 'unconfined' | { profile: unknown }; noNewPrivileges?: boolean; systemPathsUnconfined: boolean; writableCgroups?: boolean }

export function parseSecurityOpts(opts: string[] | null | undefined): SecurityOpts {
  const out: SecurityOpts = { seccomp: 'default', systemPathsUnconfined: false };
  for (const o of opts ?? []) {
    if (typeof o !== 'string') throw new InvalidArgumentError('invalid --security-opt: expected a string');
    const sep = o.includes('=') ? '=' : ':';
    const i = o.indexOf(sep);
    const key = i < 0 ? o : o.slice(0, i);
    const value = i < 0 ? '' : o.slice(i + 1);
    switch (key) {
      case 'no-new-privileges':
        if (value === '' || value === 'true') out.noNewPrivileges = true;
        else if (value === 'false') out.noNewPrivileges = false;
        else throw new InvalidArgumentError(`invalid --security-opt 2: "${o}"`);
        break;
      case 'seccomp':
        if (value === 'unconfined') out.seccomp = 'unconfined';
        else if (value === 'builtin' || value === '') out.seccomp = 'default';
        else {
          // The CLI sends the profile file's content.
          try {
            out.seccomp = { profile: JSON.parse(value) };
          } catch (err) {
            throw new InvalidArgumentError(`Decoding seccomp profile failed: ${(err as Error).message}`);
          }
        }
        break;
      case 'systempaths':
        if (value !== 'unconfined') throw new InvalidArgumentError(`invalid --security-opt: systempaths=${value}`);
        out.systemPathsUnconfined = true;
        break;
      case 'writable-cgroups':
        out.writableCgroups = value !== 'false';
        break;
      case 'apparmor':
      case 'label':
        break; // No LSM here; accepted as dockerd does on hosts without it.
      default:
        throw new InvalidArgumentError(`invalid --security-opt 1: "${o}"`);
    }
  }
  return out;
}

const NAMESPACED_SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];

export function validateSysctls(sysctls: Record<string, string> | null | undefined, hc: HostConfig): void {
  for (const [k, v] of Object.entries(sysctls ?? {})) {
    if (typeof v !== 'string') throw new InvalidArgumentError(`sysctl ${k}: value must be a string`);
    const ipcHost = hc.IpcMode === 'host';
    const netHost = hc.NetworkMode === 'host';
    if (NAMESPACED_SYSCTLS.includes(k) || k.startsWith('fs.mqueue.')) {
      if (ipcHost) throw new InvalidArgumentError(`sysctl "${k}" not allowed with host IPC namespace`);
      continue;
    }
    if (k.startsWith('net.')) {
      if (netHost) throw new InvalidArgumentError(`sysctl "${k}" not allowed in host network namespace`);
      continue;
    }
    throw new InvalidArgumentError(`sysctl "${k}" is not allowed in a container (it is not namespaced)`);
  }
}

function linuxRdev(st: Stats): { major: number; minor: number } {
  const dev = st.rdev;
  return { major: ((dev >> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff), minor: (dev & 0xff) | ((dev >> 12) & 0xfff00) };
}

function deviceOf(hostPath: string, containerPath: string): LinuxDevice | undefined {
  const st = statSync(hostPath);
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : undefined;
  if (!type) return undefined;
  const { major, minor } = linuxRdev(st);
  return { path: containerPath, type, major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** `--device /dev/x[:/dev/y[:rwm]]` (directories recursively), with the cgroup rules that allow them. */
export function userDevices(hc: HostConfig): { devices: LinuxDevice[]; rules: LinuxDeviceCgroup[] } {
  const devices: LinuxDevice[] = [];
  const rules: LinuxDeviceCgroup[] = [];
  for (const d of hc.Devices ?? []) {
    const perms = d.CgroupPermissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(perms)) throw new InvalidArgumentError(`invalid device cgroup permissions: ${perms}`);
    let st: Stats;
    try {
      st = statSync(d.PathOnHost);
    } catch {
      throw new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
    }
    const dest = d.PathInContainer || d.PathOnHost;
    const add = (host: string, ctr: string) => {
      const dev = deviceOf(host, ctr);
      if (!dev) return;
      devices.push(dev);
      rules.push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access: perms });
    };
    if (st.isDirectory()) {
      const walk = (dir: string) => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const p = path.join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else add(p, path.join(dest, path.relative(d.PathOnHost, p)));
        }
      };
      walk(d.PathOnHost);
    } else {
      const dev = deviceOf(d.PathOnHost, dest);
      if (!dev) throw new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
      add(d.PathOnHost, dest);
    }
  }
  for (const r of hc.DeviceCgroupRules ?? []) {
    const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(r);
    if (!m) throw new InvalidArgumentError(`invalid device cgroup rule format: '${r}'`);
    rules.push({ allow: true, type: m[1]!, major: m[2] === '*' ? null : Number(m[2]), minor: m[3] === '*' ? null : Number(m[3]), access: m[4]! });
  }
  return { devices, rules };
}

/** Every device node of the host (for privileged containers), as Docker gives them. */
function hostDevices(): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev'].includes(e.name)) continue;
        walk(p);
      } else if (e.isCharacterDevice() || e.isBlockDevice()) {
        if (p === '/dev/console') continue;
        try {
          const d = deviceOf(p, p);
          if (d) out.push(d);
        } catch {
          // A device that vanished meanwhile.
        }
      }
    }
  };
  walk('/dev');
  return out;
}

export function resources(hc: HostConfig, deviceRules: LinuxDeviceCgroup[], cgroupV2: boolean): LinuxResources {
  const r: LinuxResources = { devices: hc.Privileged ? [{ allow: true, access: 'rwm' }] : [...defaultDeviceRules(), ...deviceRules] };
  const mem: NonNullable<LinuxResources['memory']> = {};
  if (hc.Memory) mem.limit = hc.Memory;
  if (hc.MemoryReservation) mem.reservation = hc.MemoryReservation;
  if (hc.MemorySwap !== undefined && hc.MemorySwap !== 0) mem.swap = hc.MemorySwap;
  else if (hc.Memory) mem.swap = hc.Memory * 2;
  const swappiness = hc.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== null && swappiness >= 0 && !cgroupV2) mem.swappiness = swappiness;
  if (hc.OomKillDisable) mem.disableOOMKiller = true;
  if (hc.KernelMemoryTCP) mem.kernelTCP = hc.KernelMemoryTCP;
  if (Object.keys(mem).length > 0) r.memory = mem;
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (hc.CpuShares) cpu.shares = hc.CpuShares;
  if (hc.NanoCpus) {
    cpu.period = 100_000;
    cpu.quota = Math.round((hc.NanoCpus * 100_000) / 1e9);
  }
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (hc.CpuRealtimePeriod) cpu.realtimePeriod = hc.CpuRealtimePeriod;
  if (hc.CpuRealtimeRuntime) cpu.realtimeRuntime = hc.CpuRealtimeRuntime;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;
  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null && hc.PidsLimit > 0) r.pids = { limit: hc.PidsLimit };
  const blkio: NonNullable<LinuxResources['blockIO']> = {};
  if (hc.BlkioWeight) blkio.weight = hc.BlkioWeight;
  const devNums = (p: string) => {
    try {
      return linuxRdev(statSync(p));
    } catch {
      throw new InvalidArgumentError(`blkio: no such device ${p}`);
    }
  };
  if (hc.BlkioWeightDevice?.length) blkio.weightDevice = hc.BlkioWeightDevice.map((d) => ({ ...devNums(d.Path), weight: d.Weight }));
  const throttle = (list: Array<{ Path: string; Rate: number }> | null | undefined) =>
    list?.map((d) => ({ ...devNums(d.Path), rate: d.Rate }));
  if (hc.BlkioDeviceReadBps?.length) blkio.throttleReadBpsDevice = throttle(hc.BlkioDeviceReadBps)!;
  if (hc.BlkioDeviceWriteBps?.length) blkio.throttleWriteBpsDevice = throttle(hc.BlkioDeviceWriteBps)!;
  if (hc.BlkioDeviceReadIOps?.length) blkio.throttleReadIOPSDevice = throttle(hc.BlkioDeviceReadIOps)!;
  if (hc.BlkioDeviceWriteIOps?.length) blkio.throttleWriteIOPSDevice = throttle(hc.BlkioDeviceWriteIOps)!;
  if (Object.keys(blkio).length > 0) r.blockIO = blkio;
  return r;
}

export function rlimits(hc: HostConfig, defaults: Record<string, { Name: string; Soft: number; Hard: number }>): POSIXRlimit[] | undefined {
  const merged = new Map<string, { Soft: number; Hard: number }>();
  for (const u of Object.values(defaults)) merged.set(u.Name, u);
  for (const u of hc.Ulimits ?? []) merged.set(u.Name, u);
  if (merged.size === 0) return undefined;
  return [...merged].map(([name, u]) => ({ type: `RLIMIT_${name.toUpperCase()}`, soft: u.Soft, hard: u.Hard }));
}

const depth = (p: string) => p.split('/').filter(Boolean).length;

/** Builds the spec. */
export function buildSpec(input: SpecInput): RuntimeSpec {
  const { config, hostConfig: hc, network } = input;
  const sec = parseSecurityOpts(hc.SecurityOpt);
  const caps = effectiveCapabilities(hc);
  const privileged = hc.Privileged === true;

  // Namespaces.
  const namespaces: LinuxNamespace[] = [{ type: 'mount' }];
  if (network.netns === 'new') namespaces.push({ type: 'network' });
  else if (network.netns !== 'host') namespaces.push({ type: 'network', path: network.netns.path });
  const ipcMode = hc.IpcMode || 'private';
  if (ipcMode.startsWith('container:')) namespaces.push({ type: 'ipc', path: input.ipcNsPath! });
  else if (ipcMode !== 'host') namespaces.push({ type: 'ipc' });
  const pidMode = hc.PidMode || '';
  if (pidMode.startsWith('container:')) namespaces.push({ type: 'pid', path: input.pidNsPath! });
  else if (pidMode !== 'host') namespaces.push({ type: 'pid' });
  const utsHost = hc.UTSMode === 'host';
  if (!utsHost) namespaces.push({ type: 'uts' });
  const cgroupns = hc.CgroupnsMode || (input.daemon.cgroupV2 ? 'private' : 'host');
  if (cgroupns === 'private') namespaces.push({ type: 'cgroup' });

  // Mounts: defaults (minus what the user mounts over), network files, then the user's sorted by depth.
  const userDests = new Set(input.mounts.map((m) => m.destination));
  const shmSize = hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : 64 * 1024 * 1024;
  const cgroupReadOnly = !(privileged || sec.writableCgroups === true);
  let mounts: Mount[] = defaultMounts({ privileged, shmSize, ipcNone: ipcMode === 'none', cgroupReadOnly })
    .filter((m) => !userDests.has(m.destination) && !(userDests.has('/dev') && m.destination.startsWith('/dev/')));
  const roFiles = hc.ReadonlyRootfs === true;
  const netFiles: Mount[] = [
    { destination: '/etc/resolv.conf', source: network.resolvConfPath },
    { destination: '/etc/hostname', source: network.hostnamePath },
    { destination: '/etc/hosts', source: network.hostsPath },
  ].filter((m) => !userDests.has(m.destination))
    .map((m) => ({ ...m, type: 'bind', options: ['rbind', 'rprivate', ...(roFiles ? ['ro'] : [])] }));
  mounts = [...mounts, ...netFiles];
  const user = [...input.mounts].sort((a, b) => depth(a.destination) - depth(b.destination));
  mounts.push(...user);
  let args = input.args;
  if (input.initBinary) {
    mounts.push({ destination: INIT_PATH_IN_CONTAINER, type: 'bind', source: input.initBinary, options: ['bind', 'ro'] });
    args = [INIT_PATH_IN_CONTAINER, '--', ...args];
  }

  // Devices.
  const userDev = userDevices(hc);
  const devices = privileged ? hostDevices() : userDev.devices;

  // Seccomp.
  let seccomp: LinuxSeccomp | undefined;
  if (!privileged && sec.seccomp !== 'unconfined') {
    if (typeof sec.seccomp === 'object') seccomp = profileFromDockerJson(sec.seccomp.profile, caps);
    else if (input.daemon.seccompProfile !== undefined) {
      seccomp = input.daemon.seccompProfile === 'unconfined' ? undefined : profileFromDockerJson(input.daemon.seccompProfile, caps);
    } else seccomp = defaultSeccompProfile(caps);
  }

  validateSysctls(hc.Sysctls, hc);
  const limits = rlimits(hc, input.daemon.defaultUlimits);
  const noNewPrivileges = sec.noNewPrivileges ?? input.daemon.noNewPrivileges;
  if (hc.OomScoreAdj !== undefined && (hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000)) {
    throw new InvalidArgumentError(`Invalid value ${hc.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }
  const consoleSize = hc.ConsoleSize && hc.ConsoleSize[0] > 0 && hc.ConsoleSize[1] > 0
    ? { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } : undefined;

  const maskedPaths = privileged || sec.systemPathsUnconfined ? [] : (hc.MaskedPaths ?? DEFAULT_MASKED_PATHS);
  const readonlyPaths = privileged || sec.systemPathsUnconfined ? [] : (hc.ReadonlyPaths ?? DEFAULT_READONLY_PATHS);

  const spec: RuntimeSpec = {
    ociVersion: RuntimeSpecVersion,
    root: { path: 'rootfs', readonly: hc.ReadonlyRootfs === true },
    mounts,
    process: {
      terminal: config.Tty === true,
      ...(consoleSize && config.Tty ? { consoleSize } : {}),
      user: {
        uid: input.user.uid, gid: input.user.gid,
        ...(input.user.additionalGids.length > 0 ? { additionalGids: input.user.additionalGids } : {}),
      },
      args,
      env: input.env,
      cwd: config.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, ...(privileged ? { inheritable: caps } : {}) },
      ...(limits ? { rlimits: limits } : {}),
      noNewPrivileges,
      ...(hc.OomScoreAdj ? { oomScoreAdj: hc.OomScoreAdj } : {}),
    },
    ...(utsHost ? {} : { hostname: network.hostname }),
    ...(network.domainname && !utsHost ? { domainname: network.domainname } : {}),
    annotations: { ...(hc.Annotations ?? {}) },
    linux: {
      ...(hc.Sysctls && Object.keys(hc.Sysctls).length > 0 ? { sysctl: { ...hc.Sysctls } } : {}),
      resources: resources(hc, userDev.rules, input.daemon.cgroupV2),
      cgroupsPath: input.cgroupsPath,
      namespaces,
      devices,
      ...(seccomp ? { seccomp } : {}),
      maskedPaths,
      readonlyPaths,
    },
  };
  return spec;
}
