/**
 * runtimed's configuration: flags mirroring containerd's (`--address --root --state --log-level --config`)
 * plus berth's own; a JSON config file (`--config`) provides defaults that flags override.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@berth/errdefs';

export interface Config {
  /** gRPC unix socket path (mode 0660). */
  address: string;
  /** Persistent data: content, snapshots, metadata.db. */
  root: string;
  /** Runtime state: bundles, shim sockets, the private Redis socket. */
  state: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /** An external Redis (`redis://…`, `unix:///path`); empty: start a private redis-server in the state dir. */
  redisUrl: string;
  /** The redis-server binary for the private Redis. */
  redisServer: string;
  /** The berth-shim binary; empty: find it on PATH, then beside this checkout. */
  shim: string;
  /** Root of the low-level runtime state handed to shims (berth-runc's `--root`). */
  runtimeRoot: string;
  /** Default snapshotter (`overlayfs` or `native`). */
  snapshotter: string;
  /** Pull defaults for berth's pull jobs (the engine may add its own per request). */
  registryMirrors: string[];
  insecureRegistries: string[];
  /** Warm spare shims kept ready for Tasks/Create (0 disables). */
  spareShims: number;
  /** Tasks one shim process holds (1: one process per container; more trades isolation for memory). */
  tasksPerShim: number;
  /** Delay before a claimed spare is replaced, keeping the new shim's Node start off the task's create (ms). */
  spareRefillDelayMs: number;
  /** Delay before a scheduled garbage collection after deletions (ms). */
  gcDelayMs: number;
  /** Group owning the socket (numeric gid); -1 keeps root's. */
  socketGid: number;
}

export const DEFAULTS: Config = {
  address: '/run/berth/runtimed.sock',
  root: '/var/lib/berth-runtimed',
  state: '/run/berth-runtimed',
  logLevel: 'info',
  redisUrl: '',
  redisServer: 'redis-server',
  shim: '',
  runtimeRoot: '',
  snapshotter: 'overlayfs',
  registryMirrors: [],
  insecureRegistries: [],
  spareShims: 1,
  tasksPerShim: 1,
  spareRefillDelayMs: 200,
  gcDelayMs: 100,
  socketGid: -1,
};

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export const USAGE = `Usage: berth-runtimed [options]

containerd's v1 gRPC API (so ctr works) and berth's job queue.

Options:
  -a, --address PATH        gRPC socket (default ${DEFAULTS.address})
      --root DIR            persistent state: content, snapshots, metadata (default ${DEFAULTS.root})
      --state DIR           runtime state: bundles, shim sockets, private redis (default ${DEFAULTS.state})
  -l, --log-level LEVEL     trace|debug|info|warn|error|fatal (default info)
  -c, --config FILE         JSON config file (keys as the long options in camelCase)
      --redis-url URL       use this Redis instead of a private redis-server
      --shim PATH           berth-shim binary
      --runtime-root DIR    low-level runtime state dir for shims (default <state>/runc)
      --snapshotter NAME    default snapshotter: overlayfs|native (default overlayfs)
      --registry-mirror URL docker.io mirror for pull jobs (repeatable)
      --insecure-registry H registry reached over plain HTTP (repeatable)
      --spare-shims N       warm spare shims kept ready (default 1)
      --tasks-per-shim N    containers one shim process holds (default 1: one shim per container)
      --spare-refill-delay MS  wait before replacing a claimed spare (default 200)
  -v, --version             print the version
  -h, --help                print this help
`;

export function parseConfig(argv: string[]): Config & { help: boolean; version: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      'address': { type: 'string', short: 'a' },
      'root': { type: 'string' },
      'state': { type: 'string' },
      'log-level': { type: 'string', short: 'l' },
      'config': { type: 'string', short: 'c' },
      'redis-url': { type: 'string' },
      'redis-server': { type: 'string' },
      'shim': { type: 'string' },
      'runtime-root': { type: 'string' },
      'snapshotter': { type: 'string' },
      'registry-mirror': { type: 'string', multiple: true },
      'insecure-registry': { type: 'string', multiple: true },
      'spare-shims': { type: 'string' },
      'spare-refill-delay': { type: 'string' },
      'tasks-per-shim': { type: 'string' },
      'gc-delay': { type: 'string' },
      'socket-gid': { type: 'string' },
      'version': { type: 'boolean', short: 'v' },
      'help': { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  let file: Partial<Config> = {};
  if (values.config) {
    try {
      file = JSON.parse(readFileSync(values.config, 'utf8')) as Partial<Config>;
    } catch (err) {
      throw new InvalidArgumentError(`read config ${values.config}: ${(err as Error).message}`);
    }
  }
  const cfg: Config = { ...DEFAULTS, ...file };
  if (values.address) cfg.address = values.address.replace(/^unix:\/\//, '');
  if (values.root) cfg.root = values.root;
  if (values.state) cfg.state = values.state;
  if (values['log-level']) cfg.logLevel = values['log-level'] as Config['logLevel'];
  if (values['redis-url'] !== undefined) cfg.redisUrl = values['redis-url'];
  if (values['redis-server']) cfg.redisServer = values['redis-server'];
  if (values.shim) cfg.shim = values.shim;
  if (values['runtime-root']) cfg.runtimeRoot = values['runtime-root'];
  if (values.snapshotter) cfg.snapshotter = values.snapshotter;
  if (values['registry-mirror']) cfg.registryMirrors = values['registry-mirror'];
  if (values['insecure-registry']) cfg.insecureRegistries = values['insecure-registry'];
  if (values['spare-shims'] !== undefined) cfg.spareShims = Number(values['spare-shims']);
  if (values['tasks-per-shim'] !== undefined) cfg.tasksPerShim = Number(values['tasks-per-shim']);
  if (values['spare-refill-delay'] !== undefined) cfg.spareRefillDelayMs = Number(values['spare-refill-delay']);
  if (values['gc-delay'] !== undefined) cfg.gcDelayMs = Number(values['gc-delay']);
  if (values['socket-gid'] !== undefined) cfg.socketGid = Number(values['socket-gid']);
  if (!LEVELS.includes(cfg.logLevel)) throw new InvalidArgumentError(`--log-level ${cfg.logLevel}: must be one of ${LEVELS.join(', ')}`);
  if (!Number.isInteger(cfg.tasksPerShim) || cfg.tasksPerShim < 1) {
    throw new InvalidArgumentError(`--tasks-per-shim ${cfg.tasksPerShim}: must be a positive integer`);
  }
  if (!Number.isInteger(cfg.spareShims) || cfg.spareShims < 0) throw new InvalidArgumentError(`--spare-shims ${cfg.spareShims}: must be a non-negative integer`);
  if (!['overlayfs', 'native'].includes(cfg.snapshotter)) throw new InvalidArgumentError(`--snapshotter ${cfg.snapshotter}: must be overlayfs or native`);
  cfg.address = cfg.address.replace(/^unix:\/\//, '');
  if (!cfg.runtimeRoot) cfg.runtimeRoot = `${cfg.state}/runc`;
  return { ...cfg, help: values.help ?? false, version: values.version ?? false };
}
