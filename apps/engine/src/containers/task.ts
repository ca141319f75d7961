/**
 * A container's task in runtimed: the start sequence (network, mounts, user, spec, Containers/Create,
 * Tasks/Create with the json-file log and the stdin FIFO, Tasks/Start), the clean-up after an exit, and the
 * reconnection after a daemon restart. Failures undo what the start had done.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LINUX_RESOURCES_TYPE_URL, SPEC_TYPE_URL, fromTimestamp, packJson, type ExitStatus, type Mount as RtMount } from '@berth/containerd-api';
import type { HostConfig } from '@berth/docker-api';
import { InvalidArgumentError, NotFoundError, isNotFound, wrap } from '@berth/errdefs';
import type { Mount } from '@berth/oci';
import { parseBytes } from '../config.ts';
import type { NetworkAttachment } from '../extensions.ts';
import { DEFAULT_PATH_ENV } from '../spec/defaults.ts';
import { buildSpec, resources } from '../spec/generate.ts';
import { tmpfsOptions } from '../spec/mounts.ts';
import { resolveUser } from '../spec/user.ts';
import type { Container } from './container.ts';
import type { ContainerManager, ManagerDeps } from './manager.ts';
import { layerDirs, mountSnapshot, readLayeredFile, unmount } from './rootfs.ts';
import { makeFifos, StdinPipe } from './stdio.ts';

const INIT_CANDIDATES = ['/usr/bin/tini-static', '/usr/bin/catatonit', '/usr/bin/tini'];

/** Docker's environment for a container's processes: PATH, HOSTNAME, TERM (tty), then the container's env. */
export function replaceOrAppendEnv(base: string[], over: string[]): string[] {
  const out = [...base];
  const key = (e: string) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);
  for (const e of over) {
    const i = out.findIndex((x) => key(x) === key(e));
    if (!e.includes('=')) {
      // `-e NAME` without a value: drop it (the CLI resolves it from its own environment).
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

export function containerEnv(config: { Tty?: boolean; Env?: string[] | null }, hostname: string, home: string): string[] {
  const base = [DEFAULT_PATH_ENV, `HOSTNAME=${hostname}`, ...(config.Tty ? ['TERM=xterm'] : [])];
  const env = replaceOrAppendEnv(base, config.Env ?? []);
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${home}`);
  return env;
}

export class TaskRunner {
  private readonly deps: ManagerDeps;
  private readonly manager: ContainerManager;

  constructor(deps: ManagerDeps, manager: ContainerManager) {
    this.deps = deps;
    this.manager = manager;
  }

  /** `<exec-root>/containers/<id>`: FIFOs and transient mounts. */
  runDir(id: string): string {
    return path.join(this.deps.config.execRoot, 'containers', id);
  }

  initBinary(): string {
    const candidates = this.deps.config.initPath ? [this.deps.config.initPath] : INIT_CANDIDATES;
    const found = candidates.find((p) => existsSync(p));
    if (!found) throw new InvalidArgumentError(`no init binary found (looked for ${candidates.join(', ')}); install Debian's tini`);
    return found;
  }

  /** The json-file log URI the shim writes to. */
  logUri(c: Container): string {
    const cfg = c.rec.HostConfig.LogConfig?.Config ?? {};
    const q = new URLSearchParams();
    const size = cfg['max-size'] && cfg['max-size'] !== '-1' ? parseBytes(cfg['max-size']) : undefined;
    if (size) q.set('max-size', String(size));
    if (cfg['max-file']) q.set('max-file', cfg['max-file']);
    const query = q.toString();
    return `jsonfile://${c.rec.LogPath}${query ? `?${query}` : ''}`;
  }

  /** Starts the container's task; returns the init's pid. */
  async start(c: Container): Promise<{ pid: number; exited: Promise<ExitStatus> }> {
    const { rt, networking, volumes } = this.deps;
    const id = c.id;
    const hc = c.rec.HostConfig;
    let rootfs: RtMount[];
    try {
      rootfs = await rt.snapshots.mounts(c.rec.SnapshotKey, c.rec.Snapshotter);
    } catch (err) {
      throw wrap(err, `start container ${id}: its filesystem`);
    }
    await this.forgetRuntime(id);
    const t0 = performance.now();
    const lap = (step: string) => this.deps.log.debug({ containerId: id, step, ms: Math.round(performance.now() - t0) }, 'start step');
    let network: NetworkAttachment | undefined;
    let mountsDone = false;
    let containerCreated = false;
    let taskCreated = false;
    try {
      lap('snapshot mounts');
      network = await networking.attach(c.view());
      lap('network');
      const userMounts = await this.resolveMounts(c);
      mountsDone = true;
      const dirs = layerDirs(rootfs);
      const user = resolveUser(c.rec.Config.User ?? '', hc.GroupAdd ?? [], {
        passwd: readLayeredFile(dirs, 'etc/passwd'), group: readLayeredFile(dirs, 'etc/group'),
      });
      const env = containerEnv(c.rec.Config, network.hostname, user.home);
      const ipc = hc.IpcMode ?? '';
      const pidMode = hc.PidMode ?? '';
      const spec = buildSpec({
        id,
        config: c.rec.Config,
        hostConfig: hc,
        args: [c.rec.Path, ...c.rec.Args],
        env,
        user,
        network,
        mounts: userMounts,
        cgroupsPath: `${hc.CgroupParent || this.deps.config.cgroupParent}/${id}`.replace(/\/+/g, '/'),
        ...(hc.Init ? { initBinary: this.initBinary() } : {}),
        ...(ipc.startsWith('container:') ? { ipcNsPath: this.nsPathOf(ipc.slice(10), 'ipc') } : {}),
        ...(pidMode.startsWith('container:') ? { pidNsPath: this.nsPathOf(pidMode.slice(10), 'pid') } : {}),
        daemon: {
          noNewPrivileges: this.deps.config.noNewPrivileges,
          ...(this.deps.config.seccompProfile ? { seccompProfile: this.daemonSeccomp() } : {}),
          defaultUlimits: this.deps.config.defaultUlimits,
          cgroupV2: this.deps.cgroupV2,
        },
      });
      lap('spec');
      await rt.containers.create({
        id,
        image: c.rec.ImageName,
        labels: { 'io.berth.engine': 'berthd' },
        runtime: { name: 'io.containerd.runc.v2', options: null },
        spec: packJson(SPEC_TYPE_URL, spec),
        snapshotter: c.rec.Snapshotter,
        snapshotKey: c.rec.SnapshotKey,
      });
      containerCreated = true;
      c.runtimeClean = false;
      lap('containers.create');

      const stdin = c.rec.Config.OpenStdin ? await this.ensureStdin(c) : '';
      const log = this.logUri(c);
      mkdirSync(path.dirname(c.rec.LogPath), { recursive: true });
      const tty = c.rec.Config.Tty === true;
      const created = await rt.tasks.create({
        containerId: id, rootfs, stdin, stdout: log, stderr: tty ? '' : log, terminal: tty,
      });
      taskCreated = true;
      lap('tasks.create');
      c.stdinConsumerReady?.();
      await networking.started?.({ ...c.view(), pid: created.pid, running: true });
      // Waiting before the start: an init that ends at once is still seen ending.
      const exited = rt.tasks.wait(id);
      exited.catch(() => undefined);
      await rt.tasks.start(id);
      lap('tasks.start');
      return { pid: created.pid, exited };
    } catch (err) {
      if (taskCreated) await rt.tasks.delete(id).catch(() => undefined);
      if (containerCreated) await rt.containers.delete(id).catch(() => undefined);
      if (mountsDone) await volumes?.unmount(id, c.rec.Mounts.filter((m) => m.Type === 'volume')).catch(() => undefined);
      if (network) await networking.detach(c.view()).catch(() => undefined);
      c.stdinConsumerReady?.();
      await c.stdin?.close();
      c.stdin = undefined;
      throw err;
    }
  }

  /** The container's stdin FIFO, created (and our write end opened) on first use: attach before start, or start. */
  async ensureStdin(c: Container): Promise<string> {
    const dir = this.runDir(c.id);
    const fifo = path.join(dir, 'stdin');
    if (c.stdin?.isOpen && existsSync(fifo)) return fifo;
    await makeFifos(dir, [fifo]);
    c.stdin = new StdinPipe(fifo);
    c.stdin.open();
    c.stdinConsumer = new Promise((resolve) => (c.stdinConsumerReady = resolve));
    return fifo;
  }

  private nsPathOf(ref: string, ns: 'ipc' | 'pid'): string {
    const other = this.manager.get(ref);
    if (!other.hasTask) throw new InvalidArgumentError(`cannot join ${ns.toUpperCase()} of a non running container: ${other.id}`);
    return `/proc/${other.rec.State.Pid}/ns/${ns}`;
  }

  private daemonSeccomp(): unknown {
    const p = this.deps.config.seccompProfile;
    if (p === 'unconfined' || p === 'builtin') return p === 'unconfined' ? 'unconfined' : undefined;
    return JSON.parse(requireFile(p));
  }

  /** The container's user mounts as OCI mounts (bind sources created for `-v`, volumes located, tmpfs). */
  private async resolveMounts(c: Container): Promise<Mount[]> {
    const out: Mount[] = [];
    let view: string | undefined;
    const imageDir = async (): Promise<string | undefined> => {
      if (view === undefined) {
        const mounts = await this.deps.rt.snapshots.mounts(c.rec.SnapshotKey, c.rec.Snapshotter);
        view = path.join(this.runDir(c.id), 'copyup');
        await mountSnapshot(mounts, view, true);
      }
      return view;
    };
    try {
      for (const m of c.rec.Mounts) {
        const ro = m.RW ? [] : ['ro'];
        if (m.Type === 'bind') {
          if (!existsSync(m.Source)) {
            if (m.FromMountApi) throw new InvalidArgumentError(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
            mkdirSync(m.Source, { recursive: true, mode: 0o755 });
          }
          out.push({ destination: m.Destination, type: 'bind', source: m.Source, options: ['rbind', ...ro, m.Propagation || 'rprivate'] });
        } else if (m.Type === 'volume') {
          if (!this.deps.volumes) throw new NotFoundError(`volume ${m.Name}: no volumes extension is installed`);
          const v = await this.deps.volumes.mount(c.id, m, async () => {
            const dir = await imageDir();
            return dir ? path.join(dir, m.Destination) : undefined;
          });
          out.push({ destination: m.Destination, type: 'bind', source: v.source, options: ['rbind', ...ro, 'rprivate'] });
        } else if (m.Type === 'tmpfs') {
          out.push({ destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(m.TmpfsOptions) });
        }
      }
    } finally {
      if (view) await unmount(view);
    }
    return out;
  }

  /** After the task ended: delete it in runtimed, detach the network, unmount volumes, close stdin. */
  async cleanup(c: Container): Promise<{ exitStatus?: number; exitedAt?: Date }> {
    const { rt, networking, volumes, log } = this.deps;
    let res: { exitStatus?: number; exitedAt?: Date } = {};
    try {
      const d = await rt.tasks.delete(c.id);
      res = { exitStatus: d.exitStatus, ...(fromTimestamp(d.exitedAt) ? { exitedAt: fromTimestamp(d.exitedAt)! } : {}) };
    } catch (err) {
      if (!isNotFound(err)) log.warn({ containerId: c.id, err }, 'deleting the task failed');
    }
    // The task is gone: the rest is independent.
    const vols = c.rec.Mounts.filter((m) => m.Type === 'volume');
    await Promise.all([
      rt.containers.delete(c.id).catch((err: unknown) => {
        if (!isNotFound(err)) log.warn({ containerId: c.id, err }, 'deleting the runtime container failed');
      }),
      networking.detach(c.view()).catch((err: unknown) => log.warn({ containerId: c.id, err }, 'network detach failed')),
      vols.length > 0 ? volumes?.unmount(c.id, vols).catch((err: unknown) => log.warn({ containerId: c.id, err }, 'volume unmount failed')) : undefined,
    ]);
    c.runtimeClean = true;
    await c.stdin?.close();
    c.stdin = undefined;
    rmSync(path.join(this.runDir(c.id), 'stdin'), { force: true });
    return res;
  }

  /** Removes whatever runtimed still holds for the container (a crashed start, a stale record). */
  async forgetRuntime(id: string): Promise<void> {
    const { rt } = this.deps;
    await rt.tasks.delete(id).catch(async (err: unknown) => {
      if (isNotFound(err)) return;
      // A live stale task: kill it first.
      await rt.tasks.kill(id, 9, { all: true }).catch(() => undefined);
      await rt.tasks.wait(id).catch(() => undefined);
      await rt.tasks.delete(id).catch(() => undefined);
    });
    await rt.containers.delete(id).catch(() => undefined);
  }

  /** At removal. */
  async forget(c: Container): Promise<void> {
    if (!c.runtimeClean) await this.forgetRuntime(c.id);
    rmSync(this.runDir(c.id), { recursive: true, force: true });
  }

  /**
   * After a daemon restart: true when the task is alive (state and pid taken from runtimed, stdin reopened);
   * false otherwise, with the exit recorded when runtimed knows it and the runtime objects cleaned up.
   */
  async reconnect(c: Container): Promise<boolean> {
    const { rt } = this.deps;
    let p;
    try {
      p = await rt.tasks.get(c.id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await rt.containers.delete(c.id).catch(() => undefined);
      if (c.running) {
        // An exit recorded for this run (the daemon died between recording it and deleting the task) stands.
        const s = c.rec.State;
        const recorded = !!s.FinishedAt && !s.FinishedAt.startsWith('0001') && !!s.StartedAt && Date.parse(s.FinishedAt) >= Date.parse(s.StartedAt);
        if (!recorded) {
          s.ExitCode = s.ExitCode || 255;
          s.Error = 'the container\'s task was not found after the daemon restarted';
        }
      }
      return false;
    }
    if (p.status === 'RUNNING' || p.status === 'PAUSED' || p.status === 'PAUSING' || p.status === 'CREATED') {
      c.rec.State.Status = p.status === 'RUNNING' || p.status === 'CREATED' ? 'running' : 'paused';
      c.rec.State.Pid = p.pid;
      if (c.rec.Config.OpenStdin) {
        const stdin = path.join(this.runDir(c.id), 'stdin');
        if (existsSync(stdin)) {
          c.stdin = new StdinPipe(stdin);
          try {
            c.stdin.open();
            c.stdinConsumer = Promise.resolve();
          } catch {
            c.stdin = undefined;
          }
        }
      }
      this.manager.store.save(c.rec);
      return true;
    }
    // Stopped while we were away: record the exit runtimed kept, then clean up.
    const exitedAt = fromTimestamp(p.exitedAt);
    if (c.running) {
      c.rec.State.ExitCode = p.exitStatus;
      if (exitedAt) c.rec.State.FinishedAt = exitedAt.toISOString();
    }
    await this.cleanup(c);
    if (c.running) c.rec.State.Status = 'exited';
    return false;
  }

  /** Live resource update of a running task. */
  async updateResources(c: Container, hc: HostConfig): Promise<void> {
    const r = resources(hc, [], this.deps.cgroupV2);
    delete r.devices;
    await this.deps.rt.tasks.update(c.id, packJson(LINUX_RESOURCES_TYPE_URL, r));
  }
}

function requireFile(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch (err) {
    throw wrap(err, `read the seccomp profile ${p}`);
  }
}
