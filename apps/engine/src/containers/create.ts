/**
 * `POST /containers/create`: the request checked the way dockerd checks it (types, restart policy, resources,
 * log config, security options, mounts) and merged with the image's config into the container's effective
 * configuration. Pure functions; the manager does the side effects.
 */
import { cpus } from 'node:os';
import type {
  ContainerConfig, ContainerCreateRequest, EndpointSettings, HealthConfig, HostConfig,
} from '@berth/docker-api';
import { InvalidArgumentError } from '@berth/errdefs';
import type { ImageConfig } from '@berth/oci';
import { parseBytes } from '../config.ts';
import { effectiveCapabilities, parseSecurityOpts, validateSysctls } from '../spec/generate.ts';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../spec/defaults.ts';

const bad = (m: string) => new InvalidArgumentError(m);

function expectType(v: unknown, field: string, type: 'string' | 'boolean' | 'number' | 'object' | 'array'): void {
  if (v === undefined || v === null) return;
  const ok = type === 'array' ? Array.isArray(v) : type === 'object' ? typeof v === 'object' && !Array.isArray(v) : typeof v === type;
  if (!ok) throw bad(`invalid JSON: field ${field} must be ${type === 'array' ? 'an array' : type === 'object' ? 'an object' : `a ${type}`}, got ${JSON.stringify(v)?.slice(0, 60)}`);
}

/** Docker's strslice: a string or a list of strings. */
function strslice(v: unknown, field: string): string[] | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  throw bad(`invalid JSON: field ${field} must be a string or an array of strings`);
}

function stringList(v: unknown, field: string): string[] | null | undefined {
  if (v === undefined || v === null) return v as null | undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  throw bad(`invalid JSON: field ${field} must be an array of strings`);
}

function stringMap(v: unknown, field: string): Record<string, string> | null | undefined {
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')) return v as Record<string, string>;
  throw bad(`invalid JSON: field ${field} must be an object of strings`);
}

/** Type checks of the request (unknown fields are ignored, as dockerd does). */
export function checkCreateRequest(body: unknown): ContainerCreateRequest {
  if (body === undefined || body === null) throw bad('config cannot be empty in order to create a container');
  if (typeof body !== 'object' || Array.isArray(body)) throw bad('invalid JSON: expected an object');
  const b = body as Record<string, unknown>;
  for (const f of ['Hostname', 'Domainname', 'User', 'Image', 'WorkingDir', 'StopSignal', 'MacAddress'] as const) expectType(b[f], f, 'string');
  for (const f of ['AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'OpenStdin', 'StdinOnce', 'NetworkDisabled', 'ArgsEscaped'] as const) {
    expectType(b[f], f, 'boolean');
  }
  expectType(b.StopTimeout, 'StopTimeout', 'number');
  b.Cmd = strslice(b.Cmd, 'Cmd');
  b.Entrypoint = strslice(b.Entrypoint, 'Entrypoint');
  b.Shell = strslice(b.Shell, 'Shell');
  b.Env = stringList(b.Env, 'Env');
  b.OnBuild = stringList(b.OnBuild, 'OnBuild');
  b.Labels = stringMap(b.Labels, 'Labels');
  expectType(b.ExposedPorts, 'ExposedPorts', 'object');
  expectType(b.Volumes, 'Volumes', 'object');
  expectType(b.Healthcheck, 'Healthcheck', 'object');
  expectType(b.HostConfig, 'HostConfig', 'object');
  expectType(b.NetworkingConfig, 'NetworkingConfig', 'object');
  for (const e of (b.Env as string[] | null | undefined) ?? []) {
    if (e === '' || e.startsWith('=')) throw bad(`invalid environment variable: ${e}`);
  }
  const hc = (b.HostConfig ?? {}) as Record<string, unknown>;
  for (const f of ['Binds', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'GroupAdd', 'Links', 'SecurityOpt', 'VolumesFrom', 'DeviceCgroupRules', 'MaskedPaths', 'ReadonlyPaths']) {
    hc[f] = stringList(hc[f], `HostConfig.${f}`);
  }
  hc.CapAdd = strslice(hc.CapAdd, 'HostConfig.CapAdd');
  hc.CapDrop = strslice(hc.CapDrop, 'HostConfig.CapDrop');
  for (const f of ['NetworkMode', 'IpcMode', 'PidMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode', 'Cgroup', 'CgroupParent', 'Runtime', 'Isolation', 'VolumeDriver', 'CpusetCpus', 'CpusetMems', 'ContainerIDFile']) {
    expectType(hc[f], `HostConfig.${f}`, 'string');
  }
  for (const f of ['Privileged', 'PublishAllPorts', 'ReadonlyRootfs', 'AutoRemove', 'OomKillDisable', 'Init']) expectType(hc[f], `HostConfig.${f}`, 'boolean');
  for (const f of ['Memory', 'MemorySwap', 'MemoryReservation', 'MemorySwappiness', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota',
    'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'PidsLimit', 'ShmSize', 'OomScoreAdj', 'BlkioWeight', 'KernelMemoryTCP']) {
    expectType(hc[f], `HostConfig.${f}`, 'number');
  }
  for (const f of ['RestartPolicy', 'LogConfig', 'PortBindings', 'Sysctls', 'Tmpfs', 'StorageOpt', 'Annotations']) expectType(hc[f], `HostConfig.${f}`, 'object');
  for (const f of ['Mounts', 'Ulimits', 'Devices', 'ConsoleSize', 'DeviceRequests']) expectType(hc[f], `HostConfig.${f}`, 'array');
  hc.Sysctls = stringMap(hc.Sysctls, 'HostConfig.Sysctls');
  hc.Tmpfs = stringMap(hc.Tmpfs, 'HostConfig.Tmpfs');
  for (const u of (hc.Ulimits as unknown[] | undefined) ?? []) {
    const x = u as Record<string, unknown>;
    if (!x || typeof x.Name !== 'string' || typeof x.Soft !== 'number' || typeof x.Hard !== 'number') {
      throw bad('invalid JSON: HostConfig.Ulimits entries need Name, Soft and Hard');
    }
  }
  for (const d of (hc.Devices as unknown[] | undefined) ?? []) {
    const x = d as Record<string, unknown>;
    if (!x || typeof x.PathOnHost !== 'string') throw bad('invalid JSON: HostConfig.Devices entries need PathOnHost');
  }
  b.HostConfig = hc;
  return b as ContainerCreateRequest;
}

const RESTART_POLICIES = ['', 'no', 'always', 'unless-stopped', 'on-failure'];

export function validateRestartPolicy(hc: HostConfig): void {
  const p = hc.RestartPolicy;
  if (!p) return;
  if (typeof p.Name !== 'string' || !RESTART_POLICIES.includes(p.Name)) {
    throw bad(`invalid restart policy: unknown policy '${String(p.Name)}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  const n = p.MaximumRetryCount ?? 0;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw bad('invalid restart policy: maximum retry count must be an integer');
  if (n < 0) throw bad('invalid restart policy: maximum retry count cannot be negative');
  if (n > 0 && p.Name !== 'on-failure') throw bad(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
}

function parseCpuset(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw bad(`Invalid value ${s} for cpuset cpus`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) throw bad(`Invalid value ${s} for cpuset cpus`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** Resource checks with dockerd's messages. */
export function validateResources(hc: HostConfig, ncpu = cpus().length): string[] {
  const warnings: string[] = [];
  if (hc.Memory && hc.Memory > 0 && hc.Memory < 6 * 1024 * 1024) throw bad('Minimum memory limit allowed is 6MB');
  if (hc.MemorySwap && hc.MemorySwap > 0) {
    if (!hc.Memory) throw bad('You should always set the Memory limit when using Memoryswap limit, see usage');
    if (hc.MemorySwap < hc.Memory) throw bad('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (hc.MemoryReservation && hc.Memory && hc.MemoryReservation > hc.Memory) {
    throw bad('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  if (hc.MemorySwappiness !== undefined && hc.MemorySwappiness !== null && hc.MemorySwappiness !== -1
    && (hc.MemorySwappiness < 0 || hc.MemorySwappiness > 100)) {
    throw bad(`Invalid value: ${hc.MemorySwappiness}, valid memory swappiness range is 0-100`);
  }
  if (hc.NanoCpus) {
    if (hc.CpuPeriod) throw bad('Conflicting options: Nano CPUs and CPU Period cannot both be set');
    if (hc.CpuQuota) throw bad('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
    if (hc.NanoCpus < 0 || hc.NanoCpus > ncpu * 1e9) {
      throw bad(`Range of CPUs is from 0.01 to ${ncpu.toFixed(2)}, as there are only ${ncpu} CPUs available`);
    }
  }
  if (hc.CpuPeriod && (hc.CpuPeriod < 1000 || hc.CpuPeriod > 1_000_000)) throw bad('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (hc.CpuQuota && hc.CpuQuota > 0 && hc.CpuQuota < 1000) throw bad('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (hc.CpuShares && hc.CpuShares < 0) throw bad(`shares: invalid argument`);
  if (hc.CpusetCpus) {
    const want = parseCpuset(hc.CpusetCpus);
    if (want.some((c) => c >= ncpu)) throw bad(`Requested CPUs are not available - requested ${hc.CpusetCpus}, available: 0-${ncpu - 1}`);
  }
  if (hc.CpusetMems) parseCpuset(hc.CpusetMems);
  if (hc.ShmSize !== undefined && hc.ShmSize < 0) throw bad('SHM size can not be less than 0');
  if (hc.BlkioWeight && (hc.BlkioWeight < 10 || hc.BlkioWeight > 1000)) throw bad('Range of blkio weight is from 10 to 1000');
  if (hc.OomScoreAdj !== undefined && (hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000)) {
    throw bad(`Invalid value ${hc.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }
  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null && hc.PidsLimit < 0) hc.PidsLimit = 0;
  return warnings;
}

const LOG_DRIVERS = ['json-file', 'local', 'none'];

export function validateLogConfig(hc: HostConfig, daemon: { logDriver: string; logOpts: Record<string, string> }): void {
  const type = hc.LogConfig?.Type || daemon.logDriver;
  if (!LOG_DRIVERS.includes(type)) throw bad(`logger: no log driver named '${type}' is registered`);
  const cfg = { ...(hc.LogConfig?.Type ? {} : daemon.logOpts), ...(hc.LogConfig?.Config ?? {}) };
  for (const [k, v] of Object.entries(cfg)) {
    if (typeof v !== 'string') throw bad(`log-opt ${k}: must be a string`);
    if (k === 'max-size' && v !== '-1' && parseBytes(v) === undefined) throw bad(`failed to parse max-size: ${v}`);
    if (k === 'max-file' && !/^[1-9]\d*$/.test(v)) throw bad('max-file cannot be less than 1');
    if (!['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'].includes(k)) {
      throw bad(`unknown log opt '${k}' for ${type} log driver`);
    }
  }
  hc.LogConfig = { Type: type, Config: cfg };
}

function mergeEnv(base: string[], over: string[]): string[] {
  const out = [...base];
  const key = (e: string) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);
  for (const e of over) {
    const i = out.findIndex((x) => key(x) === key(e));
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

/** Merges the image config into the request's (Docker's `merge`): the request wins field by field. */
export function mergeImageConfig(req: ContainerConfig, image: ImageConfig): ContainerConfig {
  const ic = image.config ?? {};
  const c: ContainerConfig = { ...req };
  c.Env = mergeEnv(ic.Env ?? [], req.Env ?? []);
  if (!req.Entrypoint || req.Entrypoint.length === 0) {
    if (!req.Cmd || req.Cmd.length === 0) c.Cmd = ic.Cmd ?? null;
    if (req.Entrypoint === undefined || req.Entrypoint === null) c.Entrypoint = ic.Entrypoint ?? null;
  }
  c.Cmd ??= null;
  if (!c.WorkingDir) c.WorkingDir = ic.WorkingDir ?? '';
  if (!c.User) c.User = ic.User ?? '';
  c.ExposedPorts = { ...(ic.ExposedPorts ?? {}), ...(req.ExposedPorts ?? {}) };
  c.Volumes = { ...(ic.Volumes ?? {}), ...(req.Volumes ?? {}) };
  c.Labels = { ...(ic.Labels ?? {}), ...(req.Labels ?? {}) };
  if (!c.StopSignal && ic.StopSignal) c.StopSignal = ic.StopSignal;
  if ((c.StopTimeout === undefined || c.StopTimeout === null) && typeof ic.StopTimeout === 'number') c.StopTimeout = ic.StopTimeout;
  if (!c.OnBuild || c.OnBuild.length === 0) c.OnBuild = ic.OnBuild ?? null;
  if (!c.Shell || c.Shell.length === 0) c.Shell = ic.Shell ?? undefined;
  c.Healthcheck = mergeHealthcheck(req.Healthcheck, ic.Healthcheck as HealthConfig | undefined);
  if (!c.Healthcheck) delete c.Healthcheck;
  if (c.Domainname === undefined) c.Domainname = '';
  return c;
}

function mergeHealthcheck(user: HealthConfig | undefined, image: HealthConfig | undefined): HealthConfig | undefined {
  if (!user) return image;
  if (!image) return user;
  const out: HealthConfig = { ...user };
  if (!user.Test || user.Test.length === 0) out.Test = image.Test ?? [];
  if (!user.Interval) out.Interval = image.Interval ?? 0;
  if (!user.Timeout) out.Timeout = image.Timeout ?? 0;
  if (!user.StartPeriod) out.StartPeriod = image.StartPeriod ?? 0;
  if (!user.StartInterval) out.StartInterval = image.StartInterval ?? 0;
  if (!user.Retries) out.Retries = image.Retries ?? 0;
  return out;
}

/** Path and Args of the container's process (Entrypoint + Cmd); Docker's error when there is nothing to run. */
export function commandOf(c: ContainerConfig): { path: string; args: string[] } {
  let entry = c.Entrypoint ?? [];
  if (entry.length === 1 && entry[0] === '') entry = [];
  const all = [...entry, ...(c.Cmd ?? [])];
  if (all.length === 0) throw bad('no command specified');
  return { path: all[0]!, args: all.slice(1) };
}

export function validateHealthcheck(h: HealthConfig | undefined): void {
  if (!h) return;
  const min = 1_000_000; // 1ms in ns
  for (const f of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h[f];
    if (v !== undefined && v !== 0 && (typeof v !== 'number' || v < min)) throw bad(`${f} in Healthcheck cannot be less than 1ms`);
  }
  if (h.Retries !== undefined && h.Retries < 0) throw bad('Retries in Healthcheck cannot be negative');
  if (h.Test && h.Test.length > 0 && !['NONE', 'CMD', 'CMD-SHELL'].includes(h.Test[0]!)) {
    throw bad(`Healthcheck test must start with NONE, CMD or CMD-SHELL, got ${h.Test[0]}`);
  }
}

/** The HostConfig as dockerd stores and shows it, with its defaults filled in. */
export function normalizeHostConfig(hc: HostConfig, daemon: { init: boolean; cgroupV2: boolean; defaultShmSize: number }): HostConfig {
  const out: HostConfig = {
    Binds: hc.Binds ?? null,
    ContainerIDFile: hc.ContainerIDFile ?? '',
    LogConfig: hc.LogConfig ?? { Type: 'json-file', Config: {} },
    NetworkMode: hc.NetworkMode || 'bridge',
    PortBindings: hc.PortBindings ?? {},
    RestartPolicy: { Name: hc.RestartPolicy?.Name || 'no', MaximumRetryCount: hc.RestartPolicy?.MaximumRetryCount ?? 0 },
    AutoRemove: hc.AutoRemove ?? false,
    VolumeDriver: hc.VolumeDriver ?? '',
    VolumesFrom: hc.VolumesFrom ?? null,
    ConsoleSize: hc.ConsoleSize ?? [0, 0],
    CapAdd: hc.CapAdd ?? null,
    CapDrop: hc.CapDrop ?? null,
    CgroupnsMode: hc.CgroupnsMode || (daemon.cgroupV2 ? 'private' : 'host'),
    Dns: hc.Dns ?? [],
    DnsOptions: hc.DnsOptions ?? [],
    DnsSearch: hc.DnsSearch ?? [],
    ExtraHosts: hc.ExtraHosts ?? null,
    GroupAdd: hc.GroupAdd ?? null,
    IpcMode: hc.IpcMode || 'private',
    Cgroup: hc.Cgroup ?? '',
    Links: hc.Links ?? null,
    OomScoreAdj: hc.OomScoreAdj ?? 0,
    PidMode: hc.PidMode ?? '',
    Privileged: hc.Privileged ?? false,
    PublishAllPorts: hc.PublishAllPorts ?? false,
    ReadonlyRootfs: hc.ReadonlyRootfs ?? false,
    SecurityOpt: hc.SecurityOpt ?? null,
    ...(hc.StorageOpt ? { StorageOpt: hc.StorageOpt } : {}),
    ...(hc.Tmpfs ? { Tmpfs: hc.Tmpfs } : {}),
    UTSMode: hc.UTSMode ?? '',
    UsernsMode: hc.UsernsMode ?? '',
    ShmSize: hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : daemon.defaultShmSize,
    ...(hc.Sysctls ? { Sysctls: hc.Sysctls } : {}),
    Runtime: hc.Runtime || 'runc',
    Isolation: hc.Isolation ?? '',
    CpuShares: hc.CpuShares ?? 0,
    Memory: hc.Memory ?? 0,
    NanoCpus: hc.NanoCpus ?? 0,
    CgroupParent: hc.CgroupParent ?? '',
    BlkioWeight: hc.BlkioWeight ?? 0,
    BlkioWeightDevice: hc.BlkioWeightDevice ?? [],
    BlkioDeviceReadBps: hc.BlkioDeviceReadBps ?? [],
    BlkioDeviceWriteBps: hc.BlkioDeviceWriteBps ?? [],
    BlkioDeviceReadIOps: hc.BlkioDeviceReadIOps ?? [],
    BlkioDeviceWriteIOps: hc.BlkioDeviceWriteIOps ?? [],
    CpuPeriod: hc.CpuPeriod ?? 0,
    CpuQuota: hc.CpuQuota ?? 0,
    CpuRealtimePeriod: hc.CpuRealtimePeriod ?? 0,
    CpuRealtimeRuntime: hc.CpuRealtimeRuntime ?? 0,
    CpusetCpus: hc.CpusetCpus ?? '',
    CpusetMems: hc.CpusetMems ?? '',
    Devices: hc.Devices ?? [],
    DeviceCgroupRules: hc.DeviceCgroupRules ?? null,
    DeviceRequests: hc.DeviceRequests ?? null,
    MemoryReservation: hc.MemoryReservation ?? 0,
    MemorySwap: hc.MemorySwap ?? 0,
    MemorySwappiness: hc.MemorySwappiness ?? null,
    OomKillDisable: hc.OomKillDisable ?? null,
    PidsLimit: hc.PidsLimit ?? null,
    Ulimits: hc.Ulimits ?? null,
    ...(hc.Init !== undefined && hc.Init !== null ? { Init: hc.Init } : daemon.init ? { Init: true } : {}),
    ...(hc.Mounts ? { Mounts: hc.Mounts } : {}),
    ...(hc.Annotations ? { Annotations: hc.Annotations } : {}),
    MaskedPaths: hc.MaskedPaths ?? (hc.Privileged ? null : DEFAULT_MASKED_PATHS),
    ReadonlyPaths: hc.ReadonlyPaths ?? (hc.Privileged ? null : DEFAULT_READONLY_PATHS),
  };
  return out;
}

/** Every check on a request's HostConfig that needs no other object. */
export function validateHostConfig(hc: HostConfig, daemon: { logDriver: string; logOpts: Record<string, string> }): string[] {
  validateRestartPolicy(hc);
  if (hc.AutoRemove && hc.RestartPolicy?.Name && hc.RestartPolicy.Name !== 'no') {
    throw bad(`can't create 'AutoRemove' container with restart policy`);
  }
  const warnings = validateResources(hc);
  validateLogConfig(hc, daemon);
  effectiveCapabilities(hc);
  parseSecurityOpts(hc.SecurityOpt);
  validateSysctls(hc.Sysctls, hc);
  if (hc.Runtime && !['runc', 'berth-runc', 'io.containerd.runc.v2'].includes(hc.Runtime)) {
    throw bad(`unknown or invalid runtime name: ${hc.Runtime}`);
  }
  if (hc.Isolation && hc.Isolation !== 'default') throw bad(`Invalid isolation: "${hc.Isolation}" - linux only supports 'default'`);
  for (const mode of ['IpcMode', 'PidMode', 'UTSMode'] as const) {
    const v = hc[mode] ?? '';
    const valid = mode === 'IpcMode' ? ['', 'private', 'shareable', 'host', 'none'] : mode === 'PidMode' ? ['', 'host'] : ['', 'host'];
    if (!valid.includes(v) && !(mode !== 'UTSMode' && v.startsWith('container:') && v.length > 'container:'.length)) {
      throw bad(`invalid ${mode === 'IpcMode' ? 'IPC' : mode === 'PidMode' ? 'PID' : 'UTS'} mode: ${v}`);
    }
  }
  if (hc.CgroupnsMode && !['private', 'host'].includes(hc.CgroupnsMode)) throw bad(`invalid cgroup namespace mode: ${hc.CgroupnsMode}`);
  if (hc.UsernsMode && hc.UsernsMode !== 'host') throw bad(`invalid USER mode: ${hc.UsernsMode}`);
  if (hc.ConsoleSize && (hc.ConsoleSize.length !== 2 || hc.ConsoleSize.some((n) => typeof n !== 'number' || n < 0))) {
    throw bad('invalid JSON: ConsoleSize must be [height, width]');
  }
  return warnings;
}

/** The request's endpoint settings, checked. */
export function endpointsOf(req: ContainerCreateRequest): Record<string, EndpointSettings> {
  const eps = req.NetworkingConfig?.EndpointsConfig;
  if (eps === undefined || eps === null) return {};
  if (typeof eps !== 'object' || Array.isArray(eps)) throw bad('invalid JSON: NetworkingConfig.EndpointsConfig must be an object');
  return eps;
}
