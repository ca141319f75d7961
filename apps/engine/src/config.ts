/**
 * berthd's configuration: dockerd's flags and `daemon.json` keys (same names, same rules: a key given both as a
 * flag and in the file is an error, an unknown key in the file is an error), plus a few of berth's own.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@berth/errdefs';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface DaemonConfig {
  /** Listen addresses: `unix:///path`, `tcp://host:port`. */
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  /** Address of an external berth-runtimed (or containerd-compatible) socket; empty: start our own. */
  containerd: string;
  containerdNamespace: string;
  /** The berth-runtimed program to start (flag first, then PATH, then this checkout's bundle). */
  runtimedPath: string;
  registryMirrors: string[];
  insecureRegistries: string[];
  logLevel: LogLevel;
  debug: boolean;
  tls: boolean;
  tlsVerify: boolean;
  tlsCaCert: string;
  tlsCert: string;
  tlsKey: string;
  /** Group owning the unix socket (name or gid); the socket is 0660. Default `berth` when that group exists. */
  group: string;
  pidfile: string;
  /** Parent cgroup of every container (dockerd's `--cgroup-parent`, cgroupfs driver). */
  cgroupParent: string;
  /** overlay2 (runtimed's `overlayfs`) or vfs (runtimed's `native`). */
  storageDriver: string;
  liveRestore: boolean;
  shutdownTimeout: number;
  init: boolean;
  initPath: string;
  seccompProfile: string;
  noNewPrivileges: boolean;
  defaultShmSize: number;
  defaultUlimits: Record<string, { Name: string; Soft: number; Hard: number }>;
  logDriver: string;
  logOpts: Record<string, string>;
  labels: string[];
  experimental: boolean;
  // Networking (consumed by the networks extension).
  bip: string;
  fixedCidr: string;
  bridge: string;
  mtu: number;
  iptables: boolean;
  ipMasq: boolean;
  icc: boolean;
  ipForward: boolean;
  userlandProxy: boolean;
  /** berth's own: frames between containers of one bridge network skip the bridge (libs/network direct-delivery.ts). */
  bridgeDirectDelivery: boolean;
  ip: string;
  dns: string[];
  dnsSearch: string[];
  dnsOpts: string[];
  defaultAddressPools: { base: string; size: number }[];
  /** Where the configuration was read from (for `docker info` warnings and logs). */
  configFile: string;
}

export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';
export const DEFAULT_SOCKET = '/run/berth/berthd.sock';

export const DEFAULTS: DaemonConfig = {
  hosts: [],
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  containerd: '',
  containerdNamespace: 'berth',
  runtimedPath: '',
  registryMirrors: [],
  insecureRegistries: [],
  logLevel: 'info',
  debug: false,
  tls: false,
  tlsVerify: false,
  tlsCaCert: '/etc/berth/tls/ca.pem',
  tlsCert: '/etc/berth/tls/cert.pem',
  tlsKey: '/etc/berth/tls/key.pem',
  group: '',
  pidfile: '',
  cgroupParent: '/berth',
  storageDriver: 'overlay2',
  liveRestore: true,
  shutdownTimeout: 15,
  init: false,
  initPath: '',
  seccompProfile: '',
  noNewPrivileges: false,
  defaultShmSize: 64 * 1024 * 1024,
  defaultUlimits: {},
  logDriver: 'json-file',
  logOpts: {},
  labels: [],
  experimental: false,
  bip: '',
  fixedCidr: '',
  bridge: '',
  mtu: 0,
  iptables: true,
  ipMasq: true,
  icc: true,
  ipForward: true,
  userlandProxy: true,
  bridgeDirectDelivery: true,
  ip: '0.0.0.0',
  dns: [],
  dnsSearch: [],
  dnsOpts: [],
  defaultAddressPools: [],
  configFile: '',
};

type Kind = 'string' | 'strings' | 'bool' | 'number' | 'bytes' | 'object' | 'ulimits' | 'pools';

/** One option: its flag (and short flag), its daemon.json key, the config field and the value kind. */
interface OptionDef { flag: string; short?: string; key?: string; field: keyof DaemonConfig; kind: Kind }

const OPTIONS: OptionDef[] = [
  { flag: 'host', short: 'H', key: 'hosts', field: 'hosts', kind: 'strings' },
  { flag: 'data-root', key: 'data-root', field: 'dataRoot', kind: 'string' },
  { flag: 'exec-root', key: 'exec-root', field: 'execRoot', kind: 'string' },
  { flag: 'containerd', key: 'containerd', field: 'containerd', kind: 'string' },
  { flag: 'containerd-namespace', key: 'containerd-namespace', field: 'containerdNamespace', kind: 'string' },
  { flag: 'runtimed-path', key: 'runtimed-path', field: 'runtimedPath', kind: 'string' },
  { flag: 'registry-mirror', key: 'registry-mirrors', field: 'registryMirrors', kind: 'strings' },
  { flag: 'insecure-registry', key: 'insecure-registries', field: 'insecureRegistries', kind: 'strings' },
  { flag: 'log-level', short: 'l', key: 'log-level', field: 'logLevel', kind: 'string' },
  { flag: 'debug', short: 'D', key: 'debug', field: 'debug', kind: 'bool' },
  { flag: 'tls', key: 'tls', field: 'tls', kind: 'bool' },
  { flag: 'tlsverify', key: 'tlsverify', field: 'tlsVerify', kind: 'bool' },
  { flag: 'tlscacert', key: 'tlscacert', field: 'tlsCaCert', kind: 'string' },
  { flag: 'tlscert', key: 'tlscert', field: 'tlsCert', kind: 'string' },
  { flag: 'tlskey', key: 'tlskey', field: 'tlsKey', kind: 'string' },
  { flag: 'group', short: 'G', key: 'group', field: 'group', kind: 'string' },
  { flag: 'pidfile', short: 'p', key: 'pidfile', field: 'pidfile', kind: 'string' },
  { flag: 'cgroup-parent', key: 'cgroup-parent', field: 'cgroupParent', kind: 'string' },
  { flag: 'storage-driver', short: 's', key: 'storage-driver', field: 'storageDriver', kind: 'string' },
  { flag: 'live-restore', key: 'live-restore', field: 'liveRestore', kind: 'bool' },
  { flag: 'shutdown-timeout', key: 'shutdown-timeout', field: 'shutdownTimeout', kind: 'number' },
  { flag: 'init', key: 'init', field: 'init', kind: 'bool' },
  { flag: 'init-path', key: 'init-path', field: 'initPath', kind: 'string' },
  { flag: 'seccomp-profile', key: 'seccomp-profile', field: 'seccompProfile', kind: 'string' },
  { flag: 'no-new-privileges', key: 'no-new-privileges', field: 'noNewPrivileges', kind: 'bool' },
  { flag: 'default-shm-size', key: 'default-shm-size', field: 'defaultShmSize', kind: 'bytes' },
  { flag: 'default-ulimit', key: 'default-ulimits', field: 'defaultUlimits', kind: 'ulimits' },
  { flag: 'log-driver', key: 'log-driver', field: 'logDriver', kind: 'string' },
  { flag: 'log-opt', key: 'log-opts', field: 'logOpts', kind: 'object' },
  { flag: 'label', key: 'labels', field: 'labels', kind: 'strings' },
  { flag: 'experimental', key: 'experimental', field: 'experimental', kind: 'bool' },
  { flag: 'bip', key: 'bip', field: 'bip', kind: 'string' },
  { flag: 'fixed-cidr', key: 'fixed-cidr', field: 'fixedCidr', kind: 'string' },
  { flag: 'bridge', short: 'b', key: 'bridge', field: 'bridge', kind: 'string' },
  { flag: 'mtu', key: 'mtu', field: 'mtu', kind: 'number' },
  { flag: 'iptables', key: 'iptables', field: 'iptables', kind: 'bool' },
  { flag: 'ip-masq', key: 'ip-masq', field: 'ipMasq', kind: 'bool' },
  { flag: 'icc', key: 'icc', field: 'icc', kind: 'bool' },
  { flag: 'ip-forward', key: 'ip-forward', field: 'ipForward', kind: 'bool' },
  { flag: 'userland-proxy', key: 'userland-proxy', field: 'userlandProxy', kind: 'bool' },
  { flag: 'bridge-direct-delivery', key: 'bridge-direct-delivery', field: 'bridgeDirectDelivery', kind: 'bool' },
  { flag: 'ip', key: 'ip', field: 'ip', kind: 'string' },
  { flag: 'dns', key: 'dns', field: 'dns', kind: 'strings' },
  { flag: 'dns-search', key: 'dns-search', field: 'dnsSearch', kind: 'strings' },
  { flag: 'dns-opt', key: 'dns-opts', field: 'dnsOpts', kind: 'strings' },
  { flag: 'default-address-pool', key: 'default-address-pools', field: 'defaultAddressPools', kind: 'pools' },
];

/** daemon.json keys dockerd knows that berth accepts and ignores (they have no meaning here). */
const IGNORED_KEYS = new Set([
  'max-concurrent-downloads', 'max-concurrent-uploads', 'max-download-attempts', 'features', 'builder',
  'default-runtime', 'runtimes', 'exec-opts', 'storage-opts', 'userns-remap', 'selinux-enabled', 'ipv6',
  'fixed-cidr-v6', 'ip6tables', 'default-cgroupns-mode', 'default-ipc-mode', 'oom-score-adjust', 'raw-logs',
  'authorization-plugins', 'allow-nondistributable-artifacts', 'metrics-addr', 'node-generic-resources',
  'cluster-store', 'cluster-advertise', 'swarm-default-advertise-addr', 'containerd-plugin-namespace',
]);

export const USAGE = `Usage: berthd [OPTIONS]

A self-sufficient runtime for containers: the Docker Engine API on a unix socket.

Options:
      --config-file string        Daemon configuration file (default "${DEFAULT_CONFIG_FILE}")
  -H, --host list                 Daemon socket(s) to connect to (default unix://${DEFAULT_SOCKET})
      --data-root string          Root directory of persistent state (default "${DEFAULTS.dataRoot}")
      --exec-root string          Root directory for execution state files (default "${DEFAULTS.execRoot}")
      --containerd string         berth-runtimed socket to use instead of starting one
      --containerd-namespace str  runtimed namespace of the engine's objects (default "berth")
      --runtimed-path string      berth-runtimed program to start
      --registry-mirror list      Preferred registry mirror for docker.io
      --insecure-registry list    Registries reached over plain HTTP
  -l, --log-level string          trace|debug|info|warn|error|fatal (default "info")
  -D, --debug                     Debug logging
      --tls / --tlsverify         TLS for tcp:// hosts (--tlsverify requires client certificates)
      --tlscacert/--tlscert/--tlskey string  TLS files
  -G, --group string              Group of the unix socket (default "berth" if it exists)
  -p, --pidfile string            Daemon PID file (default "<exec-root>/berthd.pid")
      --cgroup-parent string      Parent cgroup of containers (default "/berth")
  -s, --storage-driver string     overlay2 or vfs (default "overlay2")
      --live-restore              Keep containers running when the daemon stops (default true)
      --init                      Run an init (tini) inside every container
      --bip, --fixed-cidr, --mtu, --iptables, --ip-masq, --icc, --userland-proxy, --dns …  networking
      --bridge-direct-delivery    Frames between containers of a network skip the bridge (default true)
  -v, --version                   Print version information and quit
  -h, --help                      Print usage
`;

export interface ParsedCommandLine {
  config: DaemonConfig;
  help: boolean;
  version: boolean;
  validate: boolean;
}

const BOOL_FLAGS = new Set(OPTIONS.filter((o) => o.kind === 'bool').map((o) => o.flag));

/** `--flag=false` (dockerd's spelling) becomes `--no-flag` for node's parseArgs. */
function normalizeArgv(argv: string[]): string[] {
  return argv.flatMap((a) => {
    const m = /^--([a-z-]+)=(true|false|1|0)$/.exec(a);
    if (m && BOOL_FLAGS.has(m[1]!)) return [m[2] === 'true' || m[2] === '1' ? `--${m[1]}` : `--no-${m[1]}`];
    return [a];
  });
}

/** Parses berthd's command line and its config file (default /etc/berth/daemon.json, optional when absent). */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedCommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    'config-file': { type: 'string' },
    'version': { type: 'boolean', short: 'v' },
    'help': { type: 'boolean', short: 'h' },
    'validate': { type: 'boolean' },
  };
  for (const o of OPTIONS) {
    const multiple = ['strings', 'object', 'ulimits', 'pools'].includes(o.kind);
    options[o.flag] = { type: o.kind === 'bool' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}), ...(multiple ? { multiple } : {}) };
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: normalizeArgv(argv), options, strict: true, allowPositionals: false, allowNegative: true }));
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  const fromFlags: Partial<Record<keyof DaemonConfig, unknown>> = {};
  const flagKeys = new Map<string, unknown>();
  for (const o of OPTIONS) {
    const v = values[o.flag];
    if (v === undefined) continue;
    fromFlags[o.field] = convert(o, v, 'flag');
    if (o.key) flagKeys.set(o.key, v);
  }

  const explicitFile = values['config-file'] as string | undefined;
  const configFile = explicitFile ?? env.BERTH_CONFIG_FILE ?? DEFAULT_CONFIG_FILE;
  const fromFile = readConfigFile(configFile, explicitFile !== undefined, flagKeys);

  const config: DaemonConfig = { ...DEFAULTS, ...fromFile, ...fromFlags, configFile } as DaemonConfig;
  if (config.debug) config.logLevel = 'debug';
  validate(config);
  return { config, help: values.help === true, version: values.version === true, validate: values.validate === true };
}

function readConfigFile(file: string, required: boolean, flagKeys: Map<string, unknown>): Partial<DaemonConfig> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new InvalidArgumentError(`unable to configure the daemon with file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`unable to configure the daemon with file ${file}: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidArgumentError(`unable to configure the daemon with file ${file}: the file must hold a JSON object`);
  }
  const byKey = new Map(OPTIONS.filter((o) => o.key).map((o) => [o.key!, o]));
  const unknown = Object.keys(raw).filter((k) => !byKey.has(k) && !IGNORED_KEYS.has(k));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `unable to configure the daemon with file ${file}: the following directives don't match any configuration option: ${unknown.join(', ')}`,
    );
  }
  const conflicts: string[] = [];
  const out: Partial<Record<keyof DaemonConfig, unknown>> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const o = byKey.get(key);
    if (!o) continue;
    if (flagKeys.has(key)) {
      conflicts.push(`${key}: (from flag: ${JSON.stringify(flagKeys.get(key))}, from file: ${JSON.stringify(value)})`);
      continue;
    }
    out[o.field] = convert(o, value, `${file}: ${key}`);
  }
  if (conflicts.length > 0) {
    throw new InvalidArgumentError(
      `unable to configure the daemon with file ${file}: the following directives are specified both as a flag and in the configuration file: ${conflicts.join(', ')}`,
    );
  }
  return out as Partial<DaemonConfig>;
}

function convert(o: OptionDef, v: unknown, where: string): unknown {
  const bad = (what: string) => new InvalidArgumentError(`${where === 'flag' ? `--${o.flag}` : where}: ${what}`);
  switch (o.kind) {
    case 'string':
      if (typeof v !== 'string') throw bad('must be a string');
      return v;
    case 'strings':
      if (typeof v === 'string') return [v];
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad('must be a list of strings');
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw bad('must be true or false');
      return v;
    case 'number': {
      const n = typeof v === 'string' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw bad('must be a number');
      return n;
    }
    case 'bytes': {
      const n = typeof v === 'number' ? v : parseBytes(String(v));
      if (n === undefined || n < 0) throw bad(`invalid size ${JSON.stringify(v)}`);
      return n;
    }
    case 'object': {
      if (Array.isArray(v)) {
        return Object.fromEntries(v.map((kv: string) => {
          const i = kv.indexOf('=');
          if (i <= 0) throw bad(`expected key=value, got ${JSON.stringify(kv)}`);
          return [kv.slice(0, i), kv.slice(i + 1)];
        }));
      }
      if (typeof v !== 'object' || v === null) throw bad('must be an object');
      return v;
    }
    case 'ulimits': {
      if (Array.isArray(v)) {
        return Object.fromEntries(v.map((s: string) => {
          const u = parseUlimit(s);
          if (!u) throw bad(`invalid ulimit ${JSON.stringify(s)}`);
          return [u.Name, u];
        }));
      }
      if (typeof v !== 'object' || v === null) throw bad('must be an object');
      return v;
    }
    case 'pools': {
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
        return v.map((s: string) => {
          const kv = Object.fromEntries(s.split(',').map((p) => p.split('=') as [string, string]));
          return { base: kv.base ?? '', size: Number(kv.size ?? 24) };
        });
      }
      if (!Array.isArray(v)) throw bad('must be a list of {base, size}');
      return v;
    }
  }
}

/** `nofile=1024:2048` or `nproc=512`. */
export function parseUlimit(s: string): { Name: string; Soft: number; Hard: number } | undefined {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s);
  if (!m) return undefined;
  const soft = Number(m[2]);
  return { Name: m[1]!, Soft: soft, Hard: m[3] !== undefined ? Number(m[3]) : soft };
}

/** Docker's human sizes: `64m`, `1g`, `512k`, `100` (bytes); binary multiples as docker's RAMInBytes. */
export function parseBytes(s: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?\s*$/i.exec(s);
  if (!m) return undefined;
  const mult: Record<string, number> = { '': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4, 'p': 1024 ** 5 };
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

const LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

function validate(c: DaemonConfig): void {
  if ((c.logLevel as string) === 'warning') c.logLevel = 'warn';
  if ((c.logLevel as string) === 'panic') c.logLevel = 'fatal';
  if (!LEVELS.includes(c.logLevel)) throw new InvalidArgumentError(`unable to parse logging level: ${c.logLevel}`);
  if (!c.dataRoot.startsWith('/')) throw new InvalidArgumentError(`--data-root ${c.dataRoot}: must be an absolute path`);
  if (!c.execRoot.startsWith('/')) throw new InvalidArgumentError(`--exec-root ${c.execRoot}: must be an absolute path`);
  if (!['overlay2', 'overlay', 'overlayfs', 'vfs', 'native'].includes(c.storageDriver)) {
    throw new InvalidArgumentError(`error initializing graphdriver: driver not supported: ${c.storageDriver}`);
  }
  if (!['json-file', 'local', 'none'].includes(c.logDriver)) {
    throw new InvalidArgumentError(`logger: no log driver named '${c.logDriver}' is registered`);
  }
  if (!c.cgroupParent.startsWith('/')) c.cgroupParent = `/${c.cgroupParent}`;
  if (c.hosts.length === 0) c.hosts = [`unix://${DEFAULT_SOCKET}`];
  for (const m of c.registryMirrors) {
    if (!/^https?:\/\/[^/]+/.test(m)) throw new InvalidArgumentError(`invalid mirror: unsupported scheme in ${JSON.stringify(m)}: must use either 'https://' or 'http://'`);
  }
  if (!c.pidfile) c.pidfile = `${c.execRoot}/berthd.pid`;
}

/** The runtimed snapshotter for a storage driver name. */
export function snapshotterFor(storageDriver: string): string {
  return storageDriver === 'vfs' || storageDriver === 'native' ? 'native' : 'overlayfs';
}
