// The low-level runtime (runc's role) over berth-nsexec: create/start/state/kill/delete/exec/ps/pause/resume/
// update/stats/OOM events for containers described by OCI bundles. State lives under the root so separate
// processes (berth-runc invocations, a shim) agree on what exists.
import {
  FailedPreconditionError, InvalidArgumentError, NotFoundError, type BerthError,
} from '@berth/errdefs';
import {
  OciError, validateRuntimeSpec, type LinuxResources, type Process, type RuntimeSpec, type RuntimeState,
} from '@berth/oci';
import { chownSync, closeSync, constants as fsc, existsSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { cgroupPathFor, detectCgroupLayout, openCgroup, type Cgroup, type CgroupStats } from './cgroups/index.ts';
import { runtimeError } from './errors.ts';
import { collectExited } from './exits.ts';
import { runHooks } from './hooks.ts';
import { launch } from './launch.ts';
import { native } from './native.ts';
import { effectiveResources, isDirectory, planCreate, planExec } from './planner.ts';
import { isRunning, procStat } from './proc.ts';
import { parseSignal } from './signals.ts';
import { StateStore, validateId, writeFileAtomic, type ContainerRecord } from './state.ts';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'stopped';

/** `runc state`'s JSON: the OCI state plus rootfs, created and owner. */
export interface ContainerState extends RuntimeState {
  status: ContainerStatus;
  pid: number;
  rootfs: string;
  /** RFC 3339 */
  created: string;
  owner: string;
}

export interface RuntimeOptions {
  /** State root; default /run/berth-runc (berth-runc's --root). */
  root?: string;
  /** Interpret cgroupsPath as systemd's slice:prefix:name (berth-runc --systemd-cgroup). */
  systemdCgroup?: boolean;
  /** The berth-nsexec binary; default the one built in native/. */
  helperPath?: string;
  /** How long create/exec wait for the container process to set itself up (default 60 s). */
  setupTimeoutMs?: number;
  /** Non-fatal problems (unknown capability names, failing poststart/poststop hooks). */
  onWarning?: (message: string) => void;
}

/** File descriptors of this process to hand to the container as 0, 1, 2 (missing ones get /dev/null). */
export interface Stdio {
  stdin?: number;
  stdout?: number;
  stderr?: number;
}

export interface CreateOptions {
  /** The bundle directory (config.json + rootfs). */
  bundle: string;
  stdio?: Stdio;
  /** With process.terminal: send the pty master to this unix socket (runc's --console-socket) instead of returning it. */
  consoleSocket?: string;
  /** Write the init's pid here (decimal, no newline, atomically). */
  pidFile?: string;
  /** Use MS_MOVE + chroot instead of pivot_root (rootfs on ramfs). */
  noPivot?: boolean;
}

export interface ExecOptions {
  stdio?: Stdio;
  consoleSocket?: string;
  pidFile?: string;
}

export interface ProcessHandle {
  /** pid in this runtime's pid namespace; a direct child of the calling process */
  pid: number;
  /** the pty master (process.terminal without consoleSocket); the caller owns and closes it */
  ptyMaster?: number;
}

const DEFAULT_ROOT = '/run/berth-runc';

function toInvalid(err: unknown, context: string): BerthError | unknown {
  if (err instanceof OciError && err.code === 'invalid_argument') return new InvalidArgumentError(`${context}: ${err.message}`, { cause: err });
  return err;
}

export class Runtime {
  readonly root: string;
  private readonly store: StateStore;
  private readonly opts: RuntimeOptions;

  constructor(opts: RuntimeOptions = {}) {
    this.opts = opts;
    this.root = path.resolve(opts.root ?? DEFAULT_ROOT);
    this.store = new StateStore(this.root);
  }

  private helper(): string {
    return this.opts.helperPath ?? native().helperPath;
  }

  private warn(message: string): void {
    this.opts.onWarning?.(message);
  }

  private cgroupOf(rec: ContainerRecord): Cgroup {
    return openCgroup(rec.cgroupLayout ?? detectCgroupLayout(), rec.cgroupPath);
  }

  private statusOf(rec: ContainerRecord, cgroup?: Cgroup): ContainerStatus {
    if (!isRunning(rec.pid, rec.pidStart)) return 'stopped';
    if (existsSync(this.store.fifo(rec.id))) return 'created';
    return (cgroup ?? this.cgroupOf(rec)).isFrozen() ? 'paused' : 'running';
  }

  private stateOf(rec: ContainerRecord): ContainerState {
    const state: ContainerState = {
      ociVersion: '1.0.2', id: rec.id, pid: rec.pid, status: this.statusOf(rec), bundle: rec.bundle, rootfs: rec.rootfs,
      created: rec.created, owner: rec.owner,
    };
    if (rec.annotations) state.annotations = rec.annotations;
    return state;
  }

  private loadSpec(bundle: string): RuntimeSpec {
    const file = path.join(bundle, 'config.json');
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`bundle ${bundle}: config.json not found`);
      throw new InvalidArgumentError(`load ${file}: ${(err as Error).message}`);
    }
    try {
      return validateRuntimeSpec(raw, { requireProcess: true });
    } catch (err) {
      throw toInvalid(err, `invalid ${file}`);
    }
  }

  /**
   * Creates the container: cgroups with limits, namespaces, mounts, and an init that blocks until start().
   * When this resolves the init is in its cgroups and namespaces. Fails with InvalidArgumentError (bad config),
   * NotFoundError (missing bundle/rootfs/executable), AlreadyExistsError (id in use), or the errno's class for
   * kernel refusals ("mount proc on /proc: EPERM"); nothing is left behind on failure.
   */
  async create(id: string, opts: CreateOptions): Promise<ProcessHandle> {
    validateId(id);
    const bundle = path.resolve(opts.bundle);
    const context = `create container ${id}`;
    const spec = (() => {
      try {
        return this.loadSpec(bundle);
      } catch (err) {
        throw runtimeError(err, context);
      }
    })();
    const rootfs = path.resolve(bundle, spec.root?.path ?? 'rootfs');
    const layout = detectCgroupLayout();
    let cgroup: Cgroup;
    let plan;
    const unknownCaps = new Set<string>();
    try {
      if (spec.hooks?.createContainer?.length || spec.hooks?.startContainer?.length) {
        throw new InvalidArgumentError('createContainer and startContainer hooks are not supported');
      }
      if (!isDirectory(rootfs)) throw new NotFoundError(`rootfs ${rootfs} does not exist or is not a directory`);
      cgroup = openCgroup(layout, cgroupPathFor(id, spec.linux?.cgroupsPath, this.opts.systemdCgroup));
      plan = planCreate(spec, {
        bundle, rootfs, cgroup, layout, fifo: this.store.fifo(id), noPivot: opts.noPivot ?? false,
        seccompCache: path.join(this.root, '.cache'),
      }, unknownCaps);
    } catch (err) {
      throw runtimeError(toInvalid(err, 'invalid config'), context);
    }
    if (unknownCaps.size > 0) this.warn(`${context}: ignoring unknown capabilities ${[...unknownCaps].join(', ')}`);

    try {
      this.store.reserve(id);
    } catch (err) {
      throw runtimeError(err, context);
    }
    let cgroupCreated = false;
    let pid = 0;
    // The durable record is written (thread pool, fsync) while the init sets up its mounts.
    let saved: Promise<void> | undefined;
    try {
      cgroupCreated = true;
      cgroup.create(effectiveResources(spec));
      native().mkfifo(this.store.fifo(id), 0o622);
      // The init opens the fifo as the container's root, which a user namespace maps to another host uid.
      const rootUid = spec.linux?.uidMappings?.find((m) => m.containerID === 0)?.hostID;
      const rootGid = spec.linux?.gidMappings?.find((m) => m.containerID === 0)?.hostID;
      if (plan.uidMap && rootUid !== undefined) chownSync(this.store.fifo(id), rootUid, rootGid ?? rootUid);
      const stateFor = (p: number): RuntimeState => ({
        ociVersion: spec.ociVersion, id, status: 'creating', pid: p, bundle, ...(spec.annotations ? { annotations: spec.annotations } : {}),
      });
      const handle = await launch(plan, {
        helper: this.helper(),
        stdio: [opts.stdio?.stdin ?? -1, opts.stdio?.stdout ?? -1, opts.stdio?.stderr ?? -1],
        timeoutMs: this.opts.setupTimeoutMs ?? 60_000,
        onHooks: async (p) => {
          await runHooks(spec.hooks?.prestart, stateFor(p), 'prestart');
          await runHooks(spec.hooks?.createRuntime, stateFor(p), 'createRuntime');
        },
        onPid: (p) => {
          const st = procStat(p);
          const rec: ContainerRecord = {
            id, pid: p, pidStart: st?.startTime ?? 0, bundle, rootfs, created: new Date().toISOString(), owner: '',
            cgroupPath: cgroup.path, cgroupLayout: layout, ...(spec.annotations ? { annotations: spec.annotations } : {}), config: spec,
          };
          saved = this.store.saveAsync(rec);
          saved.catch(() => {}); // awaited below, or after a failed launch
        },
      });
      pid = handle.pid;
      await saved;
      if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(pid), 0o644);
      if (handle.ptyMaster !== undefined && opts.consoleSocket) {
        try {
          native().sendFd(opts.consoleSocket, handle.ptyMaster, '/dev/ptmx');
        } finally {
          closeSync(handle.ptyMaster);
        }
        return { pid };
      }
      return handle;
    } catch (err) {
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
        await waitGone(pid);
      }
      if (cgroupCreated) await cgroup.destroy().catch(() => {});
      await saved?.catch(() => {});
      this.store.remove(id);
      throw runtimeError(err, context);
    }
  }

  /** Lets a created container's init exec its process; then runs poststart hooks. */
  async start(id: string): Promise<void> {
    const rec = this.store.load(id);
    const status = this.statusOf(rec);
    if (status === 'stopped') throw new FailedPreconditionError(`cannot start container ${id}: cannot start a container that has stopped`);
    if (status !== 'created') throw new FailedPreconditionError(`cannot start container ${id}: cannot start an already running container`);
    const fifo = this.store.fifo(id);
    let fd: number;
    try {
      fd = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENXIO') throw new FailedPreconditionError(`cannot start container ${id}: cannot start a container that has stopped`);
      if (code === 'ENOENT') throw new FailedPreconditionError(`cannot start container ${id}: cannot start an already running container`);
      throw runtimeError(err, `start container ${id}`);
    }
    try {
      writeSync(fd, '0');
    } finally {
      closeSync(fd);
    }
    try {
      unlinkSync(fifo);
    } catch {
      // a concurrent start removed it
    }
    const spec = rec.config;
    try {
      await runHooks(spec.hooks?.poststart, { ...this.stateOf(rec), status: 'running' }, 'poststart');
    } catch (err) {
      this.warn(`start container ${id}: ${(err as Error).message}`);
    }
  }

  /** The spec the container was created from (as saved at create, with later updates). */
  config(id: string): RuntimeSpec {
    return this.store.load(id).config;
  }

  state(id: string): ContainerState {
    return this.stateOf(this.store.load(id));
  }

  list(): ContainerState[] {
    const out: ContainerState[] = [];
    for (const id of this.store.list()) {
      try {
        out.push(this.state(id));
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    return out;
  }

  /**
   * Sends a signal (number or name) to the init, or with `all` to every process in the container's cgroup
   * (SIGKILL is delivered with the cgroup frozen, so nothing forks away).
   */
  async kill(id: string, signal: string | number = 'SIGTERM', opts: { all?: boolean } = {}): Promise<void> {
    const sig = parseSignal(signal);
    const rec = this.store.load(id);
    const cgroup = this.cgroupOf(rec);
    if (opts.all) {
      await signalAll(cgroup, sig);
      return;
    }
    if (this.statusOf(rec, cgroup) === 'stopped') throw new FailedPreconditionError(`cannot kill container ${id}: container not running`);
    try {
      process.kill(rec.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw runtimeError(err, `kill container ${id}`);
      throw new FailedPreconditionError(`cannot kill container ${id}: container not running`);
    }
  }

  /**
   * Deletes a stopped (or created) container: kills what is left in its cgroup, removes the cgroups, runs
   * poststop hooks and removes its state. A running or paused container needs `force`.
   */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    let rec: ContainerRecord;
    try {
      rec = this.store.load(id);
    } catch (err) {
      if (err instanceof NotFoundError && opts.force) {
        this.store.remove(id);
        return;
      }
      throw err;
    }
    const cgroup = this.cgroupOf(rec);
    const status = this.statusOf(rec, cgroup);
    if ((status === 'running' || status === 'paused') && !opts.force) {
      throw new FailedPreconditionError(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    if (status !== 'stopped') {
      try {
        process.kill(rec.pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    await signalAll(cgroup, 9);
    if (status !== 'stopped') await waitGone(rec.pid);
    collectExited(rec.pid);
    try {
      await cgroup.destroy();
    } catch (err) {
      throw runtimeError(err, `delete container ${id}`);
    }
    const spec = rec.config;
    try {
      await runHooks(spec?.hooks?.poststop, { ...this.stateOf(rec), status: 'stopped' }, 'poststop');
    } catch (err) {
      this.warn(`delete container ${id}: ${(err as Error).message}`);
    }
    this.store.remove(id);
  }

  /**
   * Runs an additional process in the container (its namespaces, cgroups and seccomp profile, the given
   * process's user, capabilities, env and cwd). Resolves once the process has exec'd; it is a direct child of
   * the caller (use waitExit).
   */
  async exec(id: string, proc: Process, opts: ExecOptions = {}): Promise<ProcessHandle> {
    const context = `exec in container ${id}`;
    const rec = this.store.load(id);
    const cgroup = this.cgroupOf(rec);
    const status = this.statusOf(rec, cgroup);
    if (status === 'stopped') throw new FailedPreconditionError(`${context}: cannot exec in a stopped container`);
    if (status === 'paused') throw new FailedPreconditionError(`${context}: cannot exec in a paused container`);
    const spec = rec.config;
    let plan;
    const unknownCaps = new Set<string>();
    try {
      validateRuntimeSpec({ ociVersion: spec.ociVersion, process: proc }, { requireProcess: true });
      plan = planExec(spec, proc, rec.pid, cgroup, unknownCaps, path.join(this.root, '.cache'));
    } catch (err) {
      throw runtimeError(toInvalid(err, 'invalid process'), context);
    }
    if (unknownCaps.size > 0) this.warn(`${context}: ignoring unknown capabilities ${[...unknownCaps].join(', ')}`);
    let handle: ProcessHandle;
    try {
      handle = await launch(plan, {
        helper: this.helper(),
        stdio: [opts.stdio?.stdin ?? -1, opts.stdio?.stdout ?? -1, opts.stdio?.stderr ?? -1],
        timeoutMs: this.opts.setupTimeoutMs ?? 60_000,
      });
    } catch (err) {
      throw runtimeError(err, context);
    }
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(handle.pid), 0o644);
    if (handle.ptyMaster !== undefined && opts.consoleSocket) {
      try {
        native().sendFd(opts.consoleSocket, handle.ptyMaster, '/dev/ptmx');
      } finally {
        closeSync(handle.ptyMaster);
      }
      return { pid: handle.pid };
    }
    return handle;
  }

  /** Host pids of every process in the container's cgroup, ascending. */
  ps(id: string): number[] {
    return this.cgroupOf(this.store.load(id)).pids().sort((a, b) => a - b);
  }

  async pause(id: string): Promise<void> {
    const rec = this.store.load(id);
    const cgroup = this.cgroupOf(rec);
    const status = this.statusOf(rec, cgroup);
    if (status !== 'running' && status !== 'created') throw new FailedPreconditionError(`cannot pause container ${id}: container not running`);
    await cgroup.freeze();
  }

  async resume(id: string): Promise<void> {
    const rec = this.store.load(id);
    const cgroup = this.cgroupOf(rec);
    if (this.statusOf(rec, cgroup) !== 'paused') throw new FailedPreconditionError(`cannot resume container ${id}: container not paused`);
    await cgroup.thaw();
  }

  /** Applies new resource limits (docker update) and records them in the saved config. */
  update(id: string, resources: LinuxResources): void {
    const rec = this.store.load(id);
    const cgroup = this.cgroupOf(rec);
    if (this.statusOf(rec, cgroup) === 'stopped') throw new FailedPreconditionError(`cannot update container ${id}: container not running`);
    try {
      cgroup.update(resources);
    } catch (err) {
      throw runtimeError(err, `update container ${id}`);
    }
    const spec = rec.config;
    const cur = spec.linux?.resources ?? {};
    const merged: LinuxResources = { ...cur };
    for (const key of ['memory', 'cpu', 'pids', 'blockIO'] as const) {
      if (resources[key]) (merged as Record<string, unknown>)[key] = { ...(cur[key] ?? {}), ...resources[key] };
    }
    spec.linux = { ...spec.linux, resources: merged };
    this.store.save(rec);
  }

  stats(id: string): CgroupStats {
    return this.cgroupOf(this.store.load(id)).stats();
  }

  /** Calls `onOom` for every OOM in the container's cgroup until the returned function is called. */
  oomEvents(id: string, onOom: () => void): () => void {
    return this.cgroupOf(this.store.load(id)).watchOom(onOom);
  }

  /** OOM kills the kernel has counted in the container's cgroup. */
  oomKillCount(id: string): number {
    return this.cgroupOf(this.store.load(id)).oomKillCount();
  }
}

async function signalAll(cgroup: Cgroup, sig: number): Promise<void> {
  if (cgroup.pids().length === 0) return;
  const frozen = cgroup.isFrozen();
  const freeze = sig === 9 && !frozen;
  if (freeze) {
    try {
      await cgroup.freeze();
    } catch {
      // no freezer: signal anyway
    }
  }
  try {
    for (const pid of cgroup.pids()) {
      try {
        process.kill(pid, sig);
      } catch {
        // exited meanwhile
      }
    }
  } finally {
    if (freeze || (frozen && sig === 9)) await cgroup.thaw().catch(() => {});
  }
}

/** Resolves once `pid` has exited (a zombie counts), without reaping it: a pidfd watched on the event loop. */
export function waitGone(pid: number, timeoutMs = 10_000): Promise<void> {
  const n = native();
  let pidfd: number;
  try {
    pidfd = n.pidfdOpen(pid);
  } catch {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    let watcher: { close(): void } | undefined;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
      closeSync(pidfd);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    watcher = new n.FdWatcher(pidfd, done);
  });
}
