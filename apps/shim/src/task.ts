// The task: the container's init and its execs, over @berth/runtime in this process (so every process is the
// shim's direct child). State transitions are checked here and refused with what was wrong.
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, wrap } from '@berth/errdefs';
import type { RuntimeSpec } from '@berth/oci';
import { parseSignal, Runtime, waitExit } from '@berth/runtime';
import {
  EXECS_DIR, EXIT_FILE, TASK_FILE,
  type CreateParams, type DeleteResult, type ExecParams, type ExitEvent, type ExitStatus, type PidInfo, type Stats,
} from '@berth/shim-protocol';
import type { LinuxResources } from '@berth/oci';
import { EventEmitter } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ProcessIO } from './io.ts';
import type { Logger } from './logger.ts';
import { ShimProcess, type ProcessOwner } from './process.ts';
import { commitRecord, prepareRecord, writeRecord, writeRecordAsync } from './records.ts';
import { mountRootfs, unmountRootfs } from './rootfs.ts';

const EXEC_ID = /^[\w+.-]{1,128}$/;

export interface TaskEvents {
  exit: [ExitEvent];
  oom: [{ id: string }];
}

export interface TaskOptions {
  id: string;
  namespace: string;
  stateDir: string;
  log: Logger;
}

export class Task extends EventEmitter<TaskEvents> implements ProcessOwner {
  readonly id: string;
  readonly namespace: string;
  readonly stateDir: string;
  bundle = '';
  init!: ShimProcess;
  readonly execs = new Map<string, ShimProcess>();
  private runtime!: Runtime;
  private readonly log: Logger;
  private rootfsTarget: string | undefined;
  private stopOom: (() => void) | undefined;
  private oomSeen = false;
  private ownPidNamespace = true;
  private deleted = false;

  constructor(opts: TaskOptions) {
    super();
    this.id = opts.id;
    this.namespace = opts.namespace;
    this.stateDir = opts.stateDir;
    this.log = opts.log;
  }

  /** Mounts the rootfs, opens stdio and creates the init (blocked until start). Nothing is left on failure. */
  async create(p: CreateParams): Promise<number> {
    if (!p.bundle || !path.isAbsolute(p.bundle)) throw new InvalidArgumentError(`create task ${this.id}: bundle must be an absolute path`);
    this.bundle = p.bundle;
    const spec = readSpec(p.bundle, this.id);
    this.ownPidNamespace = spec.linux?.namespaces?.some((n) => n.type === 'pid' && !n.path) ?? false;
    const root = p.runtimeRoot ?? path.join('/run/berth-runc', this.namespace || 'default');
    this.runtime = new Runtime({ root, onWarning: (m) => this.log.warn(m) });
    const io = new ProcessIO({ ...p, terminal: p.terminal ?? spec.process?.terminal ?? false });
    if (p.consoleSize && io.terminal) io.resize(p.consoleSize.width, p.consoleSize.height);
    this.init = new ShimProcess(this, '', io);
    const rootfs = path.resolve(p.bundle, spec.root?.path ?? 'rootfs');
    if (p.rootfs && p.rootfs.length > 0) {
      mountRootfs(p.rootfs, rootfs);
      this.rootfsTarget = rootfs;
    }
    try {
      const stdio = io.open(this.stateDir);
      const handle = await this.runtime.create(this.id, { bundle: p.bundle, stdio });
      io.started(handle.ptyMaster);
      this.init.watch(handle.pid, waitExit(handle.pid));
      try {
        this.stopOom = this.runtime.oomEvents(this.id, () => {
          this.oomSeen = true;
          this.emit('oom', { id: this.id });
        });
      } catch (err) {
        this.log.warn({ err }, 'cannot watch OOM events');
      }
      // Nothing reads task.json back (it describes the task to whoever looks at the state dir): its fsyncs run
      // in the thread pool while the create is answered and the start served; delete waits for them.
      // The exit record's temp is prepared alongside: at the exit only an in-place overwrite is synced.
      this.taskRecordWritten = Promise.all([
        writeRecordAsync(path.join(this.stateDir, TASK_FILE), {
          id: this.id, namespace: this.namespace, bundle: p.bundle, rootfs: p.rootfs ?? [], stdin: p.stdin ?? '',
          stdout: p.stdout ?? '', stderr: p.stderr ?? '', terminal: io.terminal, pid: handle.pid, runtimeRoot: root,
          created: new Date().toISOString(),
        }).catch((err: unknown) => this.log.warn({ err }, 'write task.json')),
        prepareRecord(path.join(this.stateDir, EXIT_FILE)).then(
          (tmp) => void (this.preparedExit = tmp),
          (err: unknown) => this.log.warn({ err }, 'prepare exit.json'),
        ),
      ]).then(() => undefined);
      return handle.pid;
    } catch (err) {
      io.close();
      this.releaseRootfs();
      throw err;
    }
  }

  private taskRecordWritten: Promise<void> = Promise.resolve();
  /** The exit record's prepared temp, once written (records.ts prepareRecord). */
  private preparedExit: string | undefined;

  /** Unmounts the rootfs; the overlay's release (a sync of its upper filesystem) finishes after the answer. */
  private releaseRootfs(): void {
    if (!this.rootfsTarget) return;
    const released = unmountRootfs(this.rootfsTarget);
    this.rootfsTarget = undefined;
    released.catch((err: unknown) => this.log.warn({ err }, 'release rootfs'));
  }

  process(execId: string | undefined): ShimProcess {
    if (!execId) return this.init;
    const e = this.execs.get(execId);
    if (!e) throw new NotFoundError(`exec ${execId} in task ${this.id}: not found`);
    return e;
  }

  async start(execId?: string): Promise<number> {
    const proc = this.process(execId);
    if (proc.status !== 'created') throw new FailedPreconditionError(`cannot start ${proc.name}: already ${proc.status === 'stopped' ? 'stopped' : 'started'}`);
    if (!execId) {
      await this.runtime.start(this.id);
      proc.markStarted();
      return proc.pid;
    }
    if (this.init.status !== 'running') throw new FailedPreconditionError(`cannot start ${proc.name}: task is ${this.init.status}`);
    const spec = this.execSpecs.get(execId)!;
    const stdio = proc.io.open(path.join(this.stateDir));
    let handle;
    try {
      handle = await this.runtime.exec(this.id, spec, { stdio });
    } catch (err) {
      proc.io.close();
      throw err;
    }
    proc.io.started(handle.ptyMaster);
    proc.markStarted();
    proc.watch(handle.pid, waitExit(handle.pid));
    this.writeExec(proc);
    return handle.pid;
  }

  private readonly execSpecs = new Map<string, ExecParams['process']>();

  exec(p: ExecParams): void {
    if (!EXEC_ID.test(p.execId ?? '')) throw new InvalidArgumentError(`exec in task ${this.id}: invalid exec id ${JSON.stringify(p.execId)}`);
    if (this.execs.has(p.execId)) throw new AlreadyExistsError(`exec ${p.execId} in task ${this.id}: already exists`);
    if (this.init.status === 'stopped') throw new FailedPreconditionError(`cannot exec in task ${this.id}: task is stopped`);
    if (!p.process || !Array.isArray(p.process.args) || p.process.args.length === 0) {
      throw new InvalidArgumentError(`exec ${p.execId} in task ${this.id}: process.args must not be empty`);
    }
    const io = new ProcessIO({ ...p, terminal: p.terminal ?? p.process.terminal ?? false });
    if (p.consoleSize && io.terminal) io.resize(p.consoleSize.width, p.consoleSize.height);
    const proc = new ShimProcess(this, p.execId, io);
    this.execs.set(p.execId, proc);
    // The size goes into the runtime's plan too, so the pty has it before the process runs (not only after).
    const size = p.consoleSize && io.terminal ? { consoleSize: { width: p.consoleSize.width, height: p.consoleSize.height } } : {};
    this.execSpecs.set(p.execId, { ...p.process, terminal: io.terminal, ...size });
    this.writeExec(proc);
  }

  async kill(signal: number | string, opts: { execId?: string; all?: boolean }): Promise<void> {
    const sig = parseSignal(signal);
    if (opts.execId) {
      const proc = this.process(opts.execId);
      if (proc.status === 'stopped' || proc.pid === 0) throw new NotFoundError(`kill ${proc.name}: process already finished`);
      process.kill(proc.pid, sig);
      return;
    }
    if (opts.all) {
      await this.runtime.kill(this.id, sig, { all: true });
      return;
    }
    if (this.init.status === 'stopped') throw new NotFoundError(`kill task ${this.id}: process already finished`);
    try {
      await this.runtime.kill(this.id, sig);
    } catch (err) {
      if (err instanceof FailedPreconditionError) throw new NotFoundError(`kill task ${this.id}: process already finished`);
      throw err;
    }
  }

  /** Deletes an exec (not running), or the task (stopped, or created: its init is killed first). */
  async delete(execId?: string): Promise<DeleteResult> {
    if (execId) {
      const proc = this.process(execId);
      if (proc.status === 'running') throw new FailedPreconditionError(`cannot delete ${proc.name}: it is running`);
      this.execs.delete(execId);
      this.execSpecs.delete(execId);
      proc.io.close();
      rmSync(path.join(this.stateDir, EXECS_DIR, `${execId}.json`), { force: true });
      return { pid: proc.pid, exit: proc.exit ?? notStarted() };
    }
    const init = this.init;
    if (init.status === 'running' || init.status === 'paused') {
      throw new FailedPreconditionError(`cannot delete task ${this.id}: it is ${init.status}`);
    }
    await this.taskRecordWritten;
    if (init.status === 'created') await this.runtime.delete(this.id, { force: true });
    const exit = await init.wait();
    for (const e of this.execs.values()) if (e.status === 'running') process.kill(e.pid, 'SIGKILL');
    await Promise.all([...this.execs.values()].filter((e) => e.pid > 0).map((e) => e.wait()));
    // A created init was deleted above; deleting again finds nothing, which is fine.
    await this.runtime.delete(this.id, { force: true });
    this.stopOom?.();
    this.stopOom = undefined;
    this.releaseRootfs();
    this.deleted = true;
    return { pid: init.pid, exit };
  }

  get isDeleted(): boolean {
    return this.deleted;
  }

  pids(): PidInfo[] {
    const byPid = new Map<number, string>();
    for (const e of this.execs.values()) if (e.pid > 0 && e.status !== 'stopped') byPid.set(e.pid, e.execId);
    return this.runtime.ps(this.id).map((pid) => (byPid.has(pid) ? { pid, execId: byPid.get(pid)! } : { pid }));
  }

  async pause(): Promise<void> {
    if (this.init.status !== 'running') throw new FailedPreconditionError(`cannot pause task ${this.id}: it is ${this.init.status}`);
    await this.runtime.pause(this.id);
    this.init.status = 'paused';
  }

  async resume(): Promise<void> {
    if (this.init.status !== 'paused') throw new FailedPreconditionError(`cannot resume task ${this.id}: it is not paused`);
    await this.runtime.resume(this.id);
    this.init.status = 'running';
  }

  update(resources: LinuxResources): void {
    if (this.init.status === 'stopped') throw new FailedPreconditionError(`cannot update task ${this.id}: it is stopped`);
    if (!resources || typeof resources !== 'object') throw new InvalidArgumentError(`update task ${this.id}: resources must be an object`);
    this.runtime.update(this.id, resources);
  }

  stats(): Stats {
    if (this.init.status === 'stopped') throw new FailedPreconditionError(`cannot get stats of task ${this.id}: it is stopped`);
    return this.runtime.stats(this.id) as unknown as Stats;
  }

  /** Kills everything (shutdown --force): the init, execs, and whatever else is in the cgroup. */
  async killAll(): Promise<void> {
    if (this.init.status === 'stopped') return;
    await this.runtime.kill(this.id, 9, { all: true }).catch(() => {});
    if (this.init.pid > 0) {
      try {
        process.kill(this.init.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  // ---- ProcessOwner ----

  oomKilled(proc: ShimProcess): boolean {
    if (proc.execId) return false;
    if (this.oomSeen) return true;
    try {
      return this.runtime.oomKillCount(this.id) > 0;
    } catch {
      return false;
    }
  }

  recordExit(proc: ShimProcess, exit: ExitStatus): void {
    try {
      if (proc.execId) this.writeExec(proc, exit);
      else {
        const prepared = this.preparedExit;
        this.preparedExit = undefined;
        commitRecord(path.join(this.stateDir, EXIT_FILE), { pid: proc.pid, exit }, prepared);
      }
    } catch (err) {
      this.log.error({ err, execId: proc.execId }, 'cannot record exit status');
    }
  }

  announceExit(proc: ShimProcess, exit: ExitStatus): void {
    this.log.info({ execId: proc.execId || undefined, processPid: proc.pid, status: exit.status, signal: exit.signal }, 'exited');
    if (!proc.execId && !this.ownPidNamespace) {
      // Without its own pid namespace the container's other processes outlive the init; containerd kills them.
      void this.runtime.kill(this.id, 9, { all: true }).catch(() => {});
    }
    this.emit('exit', { id: this.id, execId: proc.execId, pid: proc.pid, exit });
  }

  private writeExec(proc: ShimProcess, exit?: ExitStatus): void {
    writeRecord(path.join(this.stateDir, EXECS_DIR, `${proc.execId}.json`), {
      execId: proc.execId, pid: proc.pid, status: exit ? 'stopped' : proc.status, startedAt: proc.startedAt,
      stdin: proc.io.config.stdin ?? '', stdout: proc.io.config.stdout ?? '', stderr: proc.io.config.stderr ?? '',
      terminal: proc.io.terminal, ...(exit ? { exit } : {}),
    });
  }
}

function notStarted(): ExitStatus {
  return { status: 255, exitCode: null, signal: null, oomKilled: false, startedAt: '', exitedAt: '' };
}

function readSpec(bundle: string, id: string): RuntimeSpec {
  const file = path.join(bundle, 'config.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RuntimeSpec;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`create task ${id}: ${file} not found`);
    throw wrap(err, `create task ${id}: read ${file}`);
  }
}
