// Shared by the shim's spec files (never bundled): busybox bundles, launching shims from the built bundle,
// and cleanup that leaves no process, cgroup, mount or file behind even when a test fails.
import type { RuntimeSpec } from '@berth/oci';
import { defaultSpec } from '@berth/runtime';
import { launchShim, ShimClient, type LaunchShimOptions } from '@berth/shim-protocol';
import { removeCgroupTree, tempDir, testCgroupParent, unpackRootfs, waitFor } from '@berth/testing';
import { spawnSync } from 'node:child_process';
import { existsSync, globSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const SHIM_BIN = path.resolve(import.meta.dirname, '../dist/main.js');

/** Builds dist/main.js if it is missing or older than a source file (`npm test` in this directory alone). */
export function ensureBuilt(): void {
  const appDir = path.resolve(import.meta.dirname, '..');
  const built = existsSync(SHIM_BIN) ? statSync(SHIM_BIN).mtimeMs : 0;
  const roots = [appDir, ...['shim-protocol', 'container-logs', 'runtime', 'errdefs', 'oci'].map((l) => path.resolve(appDir, '../../libs', l))];
  const newest = Math.max(...roots.flatMap((r) => globSync('src/**/*.ts', { cwd: r }).map((f) => statSync(path.join(r, f)).mtimeMs)));
  if (newest <= built) return;
  const r = spawnSync(process.execPath, [path.resolve(appDir, '../../tools/build/bundle.ts')], { cwd: appDir, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building berth-shim failed');
}

export interface BundleOptions {
  terminal?: boolean;
  env?: string[];
  /** Leave <bundle>/rootfs empty (the test passes rootfs mounts). */
  emptyRootfs?: boolean;
  memoryLimit?: number;
  pidNamespace?: boolean;
}

export class Fixture {
  readonly dir = tempDir('berth-shim-');
  readonly rootfs: string;
  readonly cgroupParent = testCgroupParent();
  readonly runtimeRoot: string;
  private readonly clients: ShimClient[] = [];
  private readonly pids: number[] = [];

  constructor() {
    ensureBuilt();
    this.rootfs = unpackRootfs('busybox', path.join(this.dir.path, 'rootfs'));
    this.runtimeRoot = path.join(this.dir.path, 'runc');
  }

  get root(): string {
    return this.dir.path;
  }

  /** A bundle whose config.json runs `args` in busybox, in this fixture's cgroup parent. */
  bundle(id: string, args: string[], opts: BundleOptions = {}): string {
    const dir = path.join(this.root, 'bundles', id);
    mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
    const spec: RuntimeSpec = defaultSpec();
    spec.process!.terminal = opts.terminal ?? false;
    spec.process!.args = args;
    if (opts.env) spec.process!.env = [...spec.process!.env!, ...opts.env];
    spec.root = { path: opts.emptyRootfs ? 'rootfs' : this.rootfs, readonly: true };
    spec.hostname = id;
    spec.linux!.cgroupsPath = `${this.cgroupParent}/${id}`;
    if (opts.pidNamespace === false) spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'pid');
    if (opts.memoryLimit) spec.linux!.resources = { ...spec.linux!.resources, memory: { limit: opts.memoryLimit, swap: opts.memoryLimit } };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
    return dir;
  }

  stateDir(id: string): string {
    return path.join(this.root, 's', id);
  }

  socket(id: string): string {
    return path.join(this.stateDir(id), 'shim.sock');
  }

  /** Launches a shim for `id` and connects to it. */
  async launch(id: string, opts: Partial<LaunchShimOptions> = {}): Promise<ShimClient> {
    const l = await launchShim({ binary: SHIM_BIN, socket: this.socket(id), stateDir: this.stateDir(id), id, namespace: 'test', ...opts });
    this.pids.push(l.pid);
    return this.connect(l.socket);
  }

  async connect(socket: string): Promise<ShimClient> {
    const c = await ShimClient.connect(socket);
    this.clients.push(c);
    this.pids.push(c.info.pid);
    return c;
  }

  /** Remembers a shim started elsewhere (a test daemon) so cleanup kills it. */
  track(pid: number): void {
    this.pids.push(pid);
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients) c.close();
    // Every shim started under this fixture, tracked or not (spares a pool launched in the background).
    for (const pid of new Set([...this.pids, ...processesMentioning(this.root)])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited as it should
      }
    }
    killCgroupProcesses(this.cgroupParent);
    await waitFor(() => cgroupProcesses(this.cgroupParent).length === 0, 'test containers to die', 10_000);
    for (const m of mountsUnder(this.root).reverse()) spawnSync('umount', ['-l', m]);
    removeCgroupTree(this.cgroupParent);
    this.dir[Symbol.dispose]();
  }
}

/** Processes whose command line mentions `text` (the shims of a fixture: their sockets are under its root). */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(text)) out.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function hierarchies(): string[] {
  const root = '/sys/fs/cgroup';
  if (existsSync(path.join(root, 'cgroup.controllers'))) return [root];
  return readdirSync(root).map((d) => path.join(root, d)).filter((d) => existsSync(path.join(d, 'cgroup.procs')));
}

function walk(dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  out.push(dir);
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name), out);
}

export function cgroupProcesses(parent: string): number[] {
  const pids = new Set<number>();
  for (const h of hierarchies()) {
    const dirs: string[] = [];
    walk(path.join(h, parent), dirs);
    for (const d of dirs) {
      try {
        for (const p of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
      } catch {
        // removed meanwhile
      }
    }
  }
  return [...pids];
}

function killCgroupProcesses(parent: string): void {
  for (const pid of cgroupProcesses(parent)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is not alive (our launched shims are reaped by libuv; others may linger briefly).
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The `log` fields of a json-file log, concatenated per stream. */
export function logText(file: string, stream?: 'stdout' | 'stderr'): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as { log: string; stream: string })
    .filter((e) => !stream || e.stream === stream)
    .map((e) => e.log).join('');
}
