// Turns `run`/`create` flags into the `POST /containers/create` body the way docker's CLI does
// (container/opts.go): ports, binds and mounts, env and label files, resources, restart policy, healthcheck,
// networking. Invalid values are usage errors (exit 125).
import type { ContainerCreateRequest, EndpointSettings, HostConfig, Mount, PortBinding } from '@berth/docker-api';
import { readFileSync } from 'node:fs';
import { CliError } from '../framework/errors.ts';
import { parseDuration, ramInBytes } from '../format/units.ts';
import type { ContainerFlagValues } from './run-flags.ts';

/** A run/create option that does not parse: docker prints `docker: <msg>` and exits 125. */
export class OptionError extends CliError {
  constructor(message: string) {
    super(message, 125);
  }
}

function bad(msg: string): never {
  throw new OptionError(msg);
}

export interface CreateSpec {
  body: ContainerCreateRequest;
  name?: string;
  platform?: string;
}

export function buildCreateSpec(f: ContainerFlagValues, changed: Set<string>, image: string, cmd: string[]): CreateSpec {
  const attach = new Set(f.attach.map((a) => a.toLowerCase()));
  for (const a of attach) if (!['stdin', 'stdout', 'stderr'].includes(a)) bad(`valid streams are STDIN, STDOUT and STDERR`);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const e of f.expose) for (const p of expandPortRange(e, '--expose')) exposed[p] = {};
  for (const p of f.publish) {
    for (const [port, binding] of parsePublish(p)) {
      exposed[port] = {};
      (bindings[port] ??= []).push(binding);
    }
  }
  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const v of f.volume) {
    if (splitVolume(v).length > 1) binds.push(v);
    else volumes[v] = {};
  }
  const env = [...readEnvFiles(f['env-file']), ...f.env.map(envEntry).filter((x): x is string => x !== undefined)];
  const labels: Record<string, string> = {};
  for (const line of readLines(f['label-file'])) assignKV(labels, line);
  for (const l of f.label) assignKV(labels, l);
  const tmpfs: Record<string, string> = {};
  for (const t of f.tmpfs) {
    const i = t.indexOf(':');
    tmpfs[i < 0 ? t : t.slice(0, i)] = i < 0 ? '' : t.slice(i + 1);
  }
  const sysctls: Record<string, string> = {};
  for (const s of f.sysctl) {
    const i = s.indexOf('=');
    if (i <= 0) bad(`${s} is not a valid sysctl value`);
    sysctls[s.slice(0, i)] = s.slice(i + 1);
  }
  const logConfig: Record<string, string> = {};
  for (const o of f['log-opt']) {
    const i = o.indexOf('=');
    if (i <= 0) bad(`invalid key value pair format in log options`);
    logConfig[o.slice(0, i)] = o.slice(i + 1);
  }
  const annotations: Record<string, string> = {};
  for (const a of f.annotation) assignKV(annotations, a);
  const storageOpt: Record<string, string> = {};
  for (const s of f['storage-opt']) assignKV(storageOpt, s);

  const size = (flag: string, v: string | undefined) => {
    if (v === undefined || v === '') return 0;
    if (flag === 'memory-swap' && v === '-1') return -1;
    try {
      return ramInBytes(v);
    } catch {
      return bad(`invalid size: '${v}'`);
    }
  };
  const duration = (flag: string, v: string | undefined) => {
    if (v === undefined) return 0;
    try {
      return Math.round(parseDuration(v) * 1e6);
    } catch {
      return bad(`time: invalid duration "${v}"`);
    }
  };
  let nanoCpus = 0;
  if (f.cpus !== undefined) {
    const n = Number(f.cpus);
    if (Number.isNaN(n)) bad(`failed to parse ${f.cpus} as a rational number`);
    nanoCpus = Math.round(n * 1e9);
  }

  let healthcheck: ContainerCreateRequest['Healthcheck'];
  if (f['no-healthcheck']) {
    healthcheck = { Test: ['NONE'] };
  } else if (f['health-cmd'] !== undefined || changed.has('health-interval') || changed.has('health-timeout') || changed.has('health-retries')
    || changed.has('health-start-period') || changed.has('health-start-interval')) {
    healthcheck = {
      Test: f['health-cmd'] !== undefined ? ['CMD-SHELL', f['health-cmd']] : undefined,
      Interval: duration('health-interval', f['health-interval']), Timeout: duration('health-timeout', f['health-timeout']),
      StartPeriod: duration('health-start-period', f['health-start-period']), StartInterval: duration('health-start-interval', f['health-start-interval']),
      Retries: f['health-retries'] ?? 0,
    };
  }

  const networkMode = f.network ?? 'default';
  const endpoint: EndpointSettings = {};
  if (f['network-alias'].length) endpoint.Aliases = f['network-alias'];
  if (f.ip || f.ip6) endpoint.IPAMConfig = { ...(f.ip ? { IPv4Address: f.ip } : {}), ...(f.ip6 ? { IPv6Address: f.ip6 } : {}) };
  if (f.link.length && networkMode !== 'default' && networkMode !== 'bridge') endpoint.Links = f.link;

  const hostConfig: HostConfig = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: f.cidfile ?? '',
    LogConfig: { Type: f['log-driver'] ?? '', Config: logConfig },
    NetworkMode: networkMode,
    PortBindings: bindings,
    RestartPolicy: parseRestart(f.restart ?? 'no'),
    AutoRemove: f.rm,
    VolumeDriver: f['volume-driver'] ?? '',
    VolumesFrom: f['volumes-from'].length ? f['volumes-from'] : null,
    ConsoleSize: [0, 0],
    Annotations: Object.keys(annotations).length ? annotations : undefined,
    CapAdd: f['cap-add'].length ? f['cap-add'] : null,
    CapDrop: f['cap-drop'].length ? f['cap-drop'] : null,
    CgroupnsMode: (f.cgroupns ?? '') as HostConfig['CgroupnsMode'],
    Dns: f.dns,
    DnsOptions: f['dns-option'],
    DnsSearch: f['dns-search'],
    ExtraHosts: f['add-host'].length ? f['add-host'].map((h) => h.replace(/=/, ':')) : null,
    GroupAdd: f['group-add'].length ? f['group-add'] : null,
    IpcMode: f.ipc ?? '',
    Cgroup: '',
    Links: f.link.length ? f.link : null,
    OomScoreAdj: f['oom-score-adj'] ?? 0,
    PidMode: f.pid ?? '',
    Privileged: f.privileged,
    PublishAllPorts: f['publish-all'],
    ReadonlyRootfs: f['read-only'],
    SecurityOpt: f['security-opt'].length ? f['security-opt'] : null,
    StorageOpt: Object.keys(storageOpt).length ? storageOpt : undefined,
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : undefined,
    UTSMode: f.uts ?? '',
    UsernsMode: f.userns ?? '',
    ShmSize: size('shm-size', f['shm-size']),
    Sysctls: Object.keys(sysctls).length ? sysctls : undefined,
    Runtime: f.runtime,
    Isolation: f.isolation ?? '',
    CpuShares: f['cpu-shares'] ?? 0,
    Memory: size('memory', f.memory),
    NanoCpus: nanoCpus,
    CgroupParent: f['cgroup-parent'] ?? '',
    BlkioWeight: f['blkio-weight'] ?? 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: f['cpu-period'] ?? 0,
    CpuQuota: f['cpu-quota'] ?? 0,
    CpuRealtimePeriod: f['cpu-rt-period'] ?? 0,
    CpuRealtimeRuntime: f['cpu-rt-runtime'] ?? 0,
    CpusetCpus: f['cpuset-cpus'] ?? '',
    CpusetMems: f['cpuset-mems'] ?? '',
    Devices: f.device.map(parseDevice),
    DeviceCgroupRules: f['device-cgroup-rule'].length ? f['device-cgroup-rule'] : null,
    MemoryReservation: size('memory-reservation', f['memory-reservation']),
    MemorySwap: size('memory-swap', f['memory-swap']),
    MemorySwappiness: f['memory-swappiness'] ?? -1,
    OomKillDisable: f['oom-kill-disable'],
    PidsLimit: f['pids-limit'] ?? 0,
    Ulimits: f.ulimit.map(parseUlimit),
    Init: changed.has('init') ? f.init : undefined,
    Mounts: f.mount.length ? f.mount.map(parseMount) : undefined,
  };

  let entrypoint: string[] | null = null;
  if (changed.has('entrypoint')) entrypoint = f.entrypoint ? [f.entrypoint] : [''];

  const interactive = f.interactive;
  const body: ContainerCreateRequest = {
    Hostname: f.hostname ?? '',
    Domainname: f.domainname ?? '',
    User: f.user ?? '',
    AttachStdin: attach.size ? attach.has('stdin') : interactive,
    AttachStdout: attach.size ? attach.has('stdout') : true,
    AttachStderr: attach.size ? attach.has('stderr') : true,
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Tty: f.tty,
    OpenStdin: interactive,
    StdinOnce: false,
    Env: env.length ? env : null,
    Cmd: cmd.length ? cmd : null,
    Healthcheck: healthcheck,
    Image: image,
    Volumes: volumes,
    WorkingDir: f.workdir ?? '',
    Entrypoint: entrypoint,
    MacAddress: f['mac-address'] || undefined,
    OnBuild: null,
    Labels: labels,
    StopSignal: f['stop-signal'] || undefined,
    StopTimeout: f['stop-timeout'],
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: networkMode.startsWith('container:') ? {} : { [networkMode]: endpoint } },
  };
  if (body.OpenStdin && body.AttachStdin) body.StdinOnce = true;
  return { body, name: f.name, platform: f.platform };
}

function assignKV(target: Record<string, string>, entry: string): void {
  const i = entry.indexOf('=');
  if (i < 0) target[entry] = '';
  else target[entry.slice(0, i)] = entry.slice(i + 1);
}

/** `-e K=V` as given; `-e K` takes K from the local environment, and is dropped when unset. */
function envEntry(e: string): string | undefined {
  if (e.includes('=')) return e;
  const v = process.env[e];
  return v === undefined ? undefined : `${e}=${v}`;
}

function readLines(files: string[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      return bad(`open ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.replace(/^\s+/, '');
      if (line === '' || line.startsWith('#')) continue;
      out.push(line);
    }
  }
  return out;
}

function readEnvFiles(files: string[]): string[] {
  return readLines(files).map(envEntry).filter((x): x is string => x !== undefined);
}

export function parseRestart(policy: string): { Name: string; MaximumRetryCount: number } {
  const [name, count] = policy.split(':');
  switch (name) {
    case '':
    case 'no':
      if (count !== undefined) bad(`invalid restart policy format: maximum retry count can only be used with 'on-failure'`);
      return { Name: 'no', MaximumRetryCount: 0 };
    case 'always':
    case 'unless-stopped':
      if (count !== undefined) bad(`invalid restart policy format: maximum retry count can only be used with 'on-failure'`);
      return { Name: name, MaximumRetryCount: 0 };
    case 'on-failure': {
      const n = count === undefined ? 0 : Number(count);
      if (!Number.isInteger(n)) bad(`invalid restart policy format: maximum retry count must be an integer`);
      return { Name: name, MaximumRetryCount: n };
    }
    default:
      return bad(`invalid restart policy format: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
}

/** Docker splits `-v` on colons, keeping Windows drive letters (not relevant here) together. */
function splitVolume(v: string): string[] {
  return v.split(':');
}

function expandPortRange(spec: string, flag: string): string[] {
  const [range, proto = 'tcp'] = spec.split('/');
  const m = /^(\d+)(?:-(\d+))?$/.exec(range ?? '');
  if (!m) return bad(`invalid range format for ${flag}: ${spec}`);
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : start;
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** `[ip:][hostPort:]containerPort[/proto]`, with ranges on both sides. */
export function parsePublish(spec: string): Array<[string, PortBinding]> {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }
  let ip = '';
  let hostPart = '';
  let containerPart = rest;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (v6) {
    ip = v6[1]!;
    rest = v6[2]!;
  }
  const parts = rest.split(':');
  if (v6) {
    [hostPart, containerPart] = parts.length === 2 ? [parts[0]!, parts[1]!] : ['', parts[0]!];
  } else if (parts.length === 3) {
    [ip, hostPart, containerPart] = parts as [string, string, string];
  } else if (parts.length === 2) {
    [hostPart, containerPart] = parts as [string, string];
  } else if (parts.length === 1) {
    containerPart = parts[0]!;
  } else {
    return bad(`invalid proto: ${spec}`);
  }
  if (!['tcp', 'udp', 'sctp'].includes(proto)) bad(`invalid proto: ${proto}`);
  const cm = /^(\d+)(?:-(\d+))?$/.exec(containerPart);
  if (!cm) return bad(`invalid containerPort: ${containerPart}`);
  const cStart = Number(cm[1]);
  const cEnd = cm[2] ? Number(cm[2]) : cStart;
  let hStart = 0;
  let hEnd = 0;
  if (hostPart !== '') {
    const hm = /^(\d+)(?:-(\d+))?$/.exec(hostPart);
    if (!hm) return bad(`invalid hostPort: ${hostPart}`);
    hStart = Number(hm[1]);
    hEnd = hm[2] ? Number(hm[2]) : hStart;
  }
  const out: Array<[string, PortBinding]> = [];
  for (let i = 0; i <= cEnd - cStart; i++) {
    let hostPort = '';
    if (hostPart !== '') {
      if (hEnd - hStart === cEnd - cStart) hostPort = String(hStart + i);
      else hostPort = hStart === hEnd ? String(hStart) : `${hStart}-${hEnd}`;
    }
    out.push([`${cStart + i}/${proto}`, { HostIp: ip, HostPort: hostPort }]);
  }
  return out;
}

function parseDevice(spec: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = spec.split(':');
  const onHost = parts[0]!;
  let inContainer = onHost;
  let perms = 'rwm';
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1]!)) perms = parts[1]!;
    else inContainer = parts[1]!;
  } else if (parts.length === 3) {
    inContainer = parts[1]!;
    perms = parts[2]!;
  } else if (parts.length > 3) {
    bad(`invalid device specification: ${spec}`);
  }
  return { PathOnHost: onHost, PathInContainer: inContainer, CgroupPermissions: perms };
}

function parseUlimit(spec: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(spec);
  if (!m) return bad(`invalid ulimit argument: ${spec}`);
  const soft = Number(m[2]);
  return { Name: m[1]!, Soft: soft, Hard: m[3] !== undefined ? Number(m[3]) : soft };
}

/** `--mount type=bind,source=/a,target=/b,readonly` */
export function parseMount(spec: string): Mount {
  const m: Mount = { Type: 'volume', Target: '' };
  for (const field of spec.split(',')) {
    const i = field.indexOf('=');
    const key = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? undefined : field.slice(i + 1);
    const bool = () => value === undefined || value === 'true' || value === '1';
    switch (key) {
      case 'type':
        m.Type = value ?? '';
        break;
      case 'source':
      case 'src':
        m.Source = value ?? '';
        break;
      case 'target':
      case 'destination':
      case 'dst':
        m.Target = value ?? '';
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = bool();
        break;
      case 'consistency':
        m.Consistency = value;
        break;
      case 'bind-propagation':
        m.BindOptions = { ...m.BindOptions, Propagation: value };
        break;
      case 'bind-nonrecursive':
        m.BindOptions = { ...m.BindOptions, NonRecursive: bool() };
        break;
      case 'volume-nocopy':
        m.VolumeOptions = { ...m.VolumeOptions, NoCopy: bool() };
        break;
      case 'volume-subpath':
        m.VolumeOptions = { ...m.VolumeOptions, Subpath: value };
        break;
      case 'volume-driver':
        m.VolumeOptions = { ...m.VolumeOptions, DriverConfig: { ...m.VolumeOptions?.DriverConfig, Name: value } };
        break;
      case 'volume-label': {
        const [k, v = ''] = (value ?? '').split('=');
        m.VolumeOptions = { ...m.VolumeOptions, Labels: { ...m.VolumeOptions?.Labels, [k!]: v } };
        break;
      }
      case 'volume-opt': {
        const [k, v = ''] = (value ?? '').split('=');
        const dc = m.VolumeOptions?.DriverConfig;
        m.VolumeOptions = { ...m.VolumeOptions, DriverConfig: { ...dc, Options: { ...dc?.Options, [k!]: v } } };
        break;
      }
      case 'tmpfs-size':
        m.TmpfsOptions = { ...m.TmpfsOptions, SizeBytes: ramInBytes(value ?? '0') };
        break;
      case 'tmpfs-mode':
        m.TmpfsOptions = { ...m.TmpfsOptions, Mode: parseInt(value ?? '0', 8) };
        break;
      default:
        bad(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (m.Target === '') bad(`target is required`);
  return m;
}
