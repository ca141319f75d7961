/**
 * Tasks over shims: one berth-shim per task (claimed from a pool of warm spares), which creates the container
 * through @berth/runtime, holds its stdio and records its exit. runtimed keeps only what finds the shims again
 * (the task table: socket, bundle, stdio); status, pids and exits are the shim's and are asked for. After a
 * restart every recorded shim is reconnected; exits that happened meanwhile are published then.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  BERTH_STATS_TYPE_URL, packJson, timestampFromIso, toTimestamp, unpackJson,
  type Any, type CreateTaskRequest, type ExecProcessRequest, type Metric, type Process, type ProcessInfo, type TaskStatus, type Timestamp,
} from '@berth/containerd-api';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, isNotFound, isUnavailable } from '@berth/errdefs';
import type { LinuxResources, Process as OciProcess } from '@berth/oci';
import {
  ShimClient, SparePool, readRecordedExit, type ExitEvent, type ExitStatus, type ProcessState,
} from '@berth/shim-protocol';
import { DEFERRED_REMOVAL_MS, removeTree } from '@berth/snapshotter';
import type { Logger } from 'pino';
import type { Context } from '../context.ts';
import { compileFilters } from '../metadata/filters.ts';
import type { TaskRecord, TaskStore } from '../metadata/tasks.ts';

const run = promisify(execFile);

export interface TaskManagerOptions {
  /** The berth-shim executable. */
  shimBinary: string;
  spares: number;
  refillDelayMs: number;
  /** Containers one shim process holds (1: one process per container). */
  tasksPerShim?: number;
}

interface Live {
  record: TaskRecord;
  shim: ShimClient | undefined;
  /** A reconnect in progress. */
  connecting?: Promise<ShimClient | undefined>;
  /** The init's exit, once its shim announced it: a stopped task's state never changes again. */
  exited?: ExitEvent;
}

type DeleteResult = { id: string; pid: number; exitStatus: number; exitedAt: Timestamp };

const STATUS: Record<string, TaskStatus> = { created: 'CREATED', running: 'RUNNING', paused: 'PAUSED', stopped: 'STOPPED' };
const UNKNOWN_EXIT = 255;

function exitTimestamp(e: ExitStatus | undefined): Timestamp {
  return e?.exitedAt ? timestampFromIso(e.exitedAt) : { seconds: 0, nanos: 0 };
}

export class TaskManager {
  private readonly ctx: Context;
  private readonly store: TaskStore;
  private readonly log: Logger;
  private readonly pool: SparePool;
  private readonly live = new Map<string, Live>();
  private closed = false;
  private poolStarted: Promise<void> = Promise.resolve();

  constructor(ctx: Context, store: TaskStore, opts: TaskManagerOptions) {
    this.ctx = ctx;
    this.store = store;
    this.log = ctx.log.child({ component: 'tasks' });
    this.pool = new SparePool({
      binary: opts.shimBinary, dir: path.join(ctx.config.state, 'spares'), size: opts.spares, refillDelayMs: opts.refillDelayMs,
      ...(opts.tasksPerShim === undefined ? {} : { tasksPerShim: opts.tasksPerShim }),
      onError: (err) => this.log.warn({ err }, `start a spare shim: ${err.message}`),
    });
  }

  private key(ns: string, id: string): string {
    return `${ns}\0${id}`;
  }

  private paths(ns: string, id: string): { bundle: string; stateDir: string; socket: string } {
    const h = createHash('sha256').update(this.key(ns, id)).digest('hex').slice(0, 16);
    const stateDir = path.join(this.ctx.config.state, 'shims', h);
    return { bundle: path.join(this.ctx.config.state, 'tasks', ns, id), stateDir, socket: path.join(stateDir, 'shim.sock') };
  }

  /** Reconnects to every recorded shim (publishing exits that happened while runtimed was away), then fills the spare pool. */
  async restore(): Promise<void> {
    mkdirSync(path.join(this.ctx.config.state, 'shims'), { recursive: true, mode: 0o711 });
    if (existsSync(this.trashDir)) {
      // What a crash left in the trash: moved aside whole, so new discards never race its removal.
      const old = `${this.trashDir}-${randomBytes(4).toString('hex')}`;
      renameSync(this.trashDir, old);
      this.discard(old);
    }
    await Promise.all(this.store.list().map(async (record) => {
      const l: Live = { record, shim: undefined };
      this.live.set(this.key(record.namespace, record.containerId), l);
      const shim = await this.connect(l);
      if (!shim) {
        this.log.warn({ containerId: record.containerId, namespace: record.namespace }, 'shim of task is gone; reporting its recorded exit');
        this.publishRecordedExit(l);
        return;
      }
      try {
        const st = await shim.state();
        if (st.status === 'stopped') this.publishExit(record, { id: record.containerId, execId: '', pid: st.pid, exit: st.exit! });
      } catch (err) {
        this.log.warn({ err, containerId: record.containerId }, 'state of reconnected shim');
      }
    }));
    // Spares are adopted or launched in the background: serving must not wait for Node processes to start
    // (a claim before the pool is ready launches a shim directly).
    this.poolStarted = this.pool.start().catch((err: unknown) => this.log.warn({ err }, 'start the spare shim pool'));
  }

  /** Waits for the spare pool (tests, benchmarks). */
  async waitSpares(n?: number): Promise<void> {
    await this.poolStarted;
    await this.pool.waitReady(n);
  }

  /** Leaves every task running: closes connections and shuts only the unclaimed spares down. */
  async close(): Promise<void> {
    this.closed = true;
    await this.poolStarted;
    await this.pool.close();
    for (const l of this.live.values()) l.shim?.close();
    await Promise.all(this.discarding);
  }

  private async connect(l: Live): Promise<ShimClient | undefined> {
    if (l.shim) return l.shim;
    l.connecting ??= (async () => {
      try {
        const shim = await ShimClient.connect(l.record.socket, { timeoutMs: 2000 });
        this.attach(l, shim);
        return shim;
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        return undefined;
      } finally {
        l.connecting = undefined;
      }
    })();
    return l.connecting;
  }

  private attach(l: Live, shim: ShimClient): void {
    l.shim = shim;
    const { namespace: ns, containerId: id } = l.record;
    shim.on('exit', (e) => {
      if (!e.execId) l.exited = e;
      this.publishExit(l.record, e);
    });
    shim.on('oom', () => this.ctx.events.emit(ns, '/tasks/oom', { containerId: id }));
    shim.on('close', () => {
      if (l.shim === shim) l.shim = undefined;
    });
  }

  private publishExit(record: TaskRecord, e: ExitEvent): void {
    const { namespace: ns, containerId: id } = record;
    this.ctx.events.emit(ns, '/tasks/exit', {
      containerId: id, id: e.execId || id, pid: e.pid, exitStatus: e.exit.status, exitedAt: exitTimestamp(e.exit),
    });
    if (!e.execId && !record.exitPublished) {
      record.exitPublished = true;
      this.store.markExitPublished(ns, id);
    }
  }

  private publishRecordedExit(l: Live): void {
    if (l.record.exitPublished) return;
    const rec = readRecordedExit(this.paths(l.record.namespace, l.record.containerId).stateDir);
    this.publishExit(l.record, {
      id: l.record.containerId, execId: '', pid: rec?.pid ?? l.record.pid,
      exit: rec?.exit ?? { status: UNKNOWN_EXIT, exitCode: null, signal: null, oomKilled: false, startedAt: '', exitedAt: new Date().toISOString() },
    });
  }

  private entry(ns: string, id: string): Live {
    const l = this.live.get(this.key(ns, id));
    if (!l) throw new NotFoundError(`task ${id}: not found`);
    return l;
  }

  /** The shim of a task, reconnecting if the connection dropped; undefined when the shim is gone. */
  private async shimOf(ns: string, id: string): Promise<{ l: Live; shim: ShimClient | undefined }> {
    const l = this.entry(ns, id);
    return { l, shim: await this.connect(l) };
  }

  private async requireShim(ns: string, id: string, what: string): Promise<ShimClient> {
    const { shim } = await this.shimOf(ns, id);
    if (!shim) throw new FailedPreconditionError(`${what} ${id}: the task's shim is gone (the task has stopped)`);
    return shim;
  }

  async create(ns: string, req: CreateTaskRequest): Promise<{ containerId: string; pid: number }> {
    if (this.closed) throw new FailedPreconditionError(`create task ${req.containerId}: runtimed is shutting down`);
    const id = req.containerId;
    const container = this.ctx.containers.get(ns, id);
    if (!container.spec?.value.length) throw new InvalidArgumentError(`create task ${id}: container has no spec`);
    if (req.checkpoint?.digest) throw new InvalidArgumentError(`create task ${id}: restoring from a checkpoint is not supported`);
    const { bundle, stateDir, socket } = this.paths(ns, id);
    const record: TaskRecord = {
      namespace: ns, containerId: id, shimId: path.basename(stateDir), socket, bundle, pid: 0,
      stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal, exitPublished: false,
    };
    if (this.live.has(this.key(ns, id)) || !this.store.insert(record)) throw new AlreadyExistsError(`task ${id}: already exists`);
    const l: Live = { record, shim: undefined };
    this.live.set(this.key(ns, id), l);
    let shim: ShimClient | undefined;
    let claiming: Promise<ShimClient> | undefined;
    try {
      rmSync(stateDir, { recursive: true, force: true });
      const t0 = performance.now();
      // The claim's round trip to a spare (which makes the task's socket) overlaps the bundle's preparation.
      claiming = this.pool.claim({ id, namespace: ns, socket, stateDir });
      claiming.catch(() => {}); // awaited below, or in the catch
      await this.clearBundle(bundle);
      mkdirSync(path.join(bundle, 'rootfs'), { recursive: true, mode: 0o711 });
      writeFileSync(path.join(bundle, 'config.json'), container.spec.value, { mode: 0o600 });
      shim = await claiming;
      const t1 = performance.now();
      this.attach(l, shim);
      const pid = await shim.create({
        bundle, rootfs: req.rootfs.map((m) => ({ type: m.type, source: m.source, options: m.options })),
        runtimeRoot: this.ctx.config.runtimeRoot, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal,
      });
      this.log.trace({ containerId: id, claimMs: Math.round(t1 - t0), createMs: Math.round(performance.now() - t1) }, 'task created');
      record.pid = pid;
      this.store.setPid(ns, id, pid);
      this.ctx.events.emit(ns, '/tasks/create', {
        containerId: id, bundle, rootfs: req.rootfs, pid,
        io: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
      });
      return { containerId: id, pid };
    } catch (err) {
      shim ??= await claiming?.catch(() => undefined);
      if (shim) {
        await shim.shutdown(true).catch(() => {});
        shim.close();
      }
      this.live.delete(this.key(ns, id));
      this.store.delete(ns, id);
      await this.clearBundle(bundle).catch(() => {});
      throw err;
    }
  }

  /**
   * Removes a bundle dir, unmounting a rootfs a dead shim left mounted (never deleting through a mount). The dir
   * is renamed into the trash at once (a new bundle of the same id may follow) and deleted after the answer.
   */
  private async clearBundle(bundle: string): Promise<void> {
    const rootfs = path.join(bundle, 'rootfs');
    if (!existsSync(bundle)) return;
    if (existsSync(rootfs) && statSync(rootfs).dev !== statSync(bundle).dev) {
      await run('umount', ['-l', rootfs]).catch(() => {});
      if (statSync(rootfs).dev !== statSync(bundle).dev) throw new FailedPreconditionError(`clean bundle ${bundle}: rootfs is still mounted`);
    }
    this.moveToTrash(bundle);
  }

  /**
   * Renames `dir` into the trash (deleted after the answer); a missing `dir` is fine. A task's state dir goes this
   * way too: its shim removes it as it closes, and two removals of one tree racing each other can both give up on
   * entries the other took and leave the emptied dir behind; renaming it away is atomic.
   */
  private moveToTrash(dir: string): void {
    const trash = path.join(this.trashDir, `${path.basename(dir)}-${randomBytes(4).toString('hex')}`);
    mkdirSync(this.trashDir, { recursive: true, mode: 0o700 });
    try {
      renameSync(dir, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.discard(trash);
  }

  /**
   * Bundles and task state dirs renamed out of the way, deleted in the background (`<state>/tasks/.trash`;
   * namespaces cannot start with a dot).
   */
  private get trashDir(): string {
    return path.join(this.ctx.config.state, 'tasks', '.trash');
  }

  private readonly discarding = new Set<Promise<void>>();

  private discard(dir: string): void {
    const p: Promise<void> = removeTree(dir, DEFERRED_REMOVAL_MS)
      .catch((err: unknown) => this.log.warn({ err, dir }, 'remove a discarded bundle'))
      .finally(() => this.discarding.delete(p));
    this.discarding.add(p);
  }

  async start(ns: string, id: string, execId: string): Promise<number> {
    const shim = await this.requireShim(ns, id, 'start task');
    const pid = await shim.start(execId || undefined);
    if (execId) this.ctx.events.emit(ns, '/tasks/exec-started', { containerId: id, execId, pid });
    else this.ctx.events.emit(ns, '/tasks/start', { containerId: id, pid });
    return pid;
  }

  /** Resolves with the exit once the process has exited (at once if it has); also for a task whose shim is gone. */
  async wait(ns: string, id: string, execId: string): Promise<{ exitStatus: number; exitedAt: Timestamp }> {
    const { l, shim } = await this.shimOf(ns, id);
    if (!shim) return this.recordedExit(l, execId);
    try {
      const e = await shim.wait(execId || undefined);
      return { exitStatus: e.status, exitedAt: exitTimestamp(e) };
    } catch (err) {
      // The shim died under the wait: what it recorded is the answer.
      if (isUnavailable(err) && !(await this.connect(l))) return this.recordedExit(l, execId);
      throw err;
    }
  }

  private recordedExit(l: Live, execId: string): { exitStatus: number; exitedAt: Timestamp } {
    if (execId) throw new NotFoundError(`process ${execId} of task ${l.record.containerId}: not found (the task's shim is gone)`);
    const rec = readRecordedExit(this.paths(l.record.namespace, l.record.containerId).stateDir);
    return { exitStatus: rec?.exit.status ?? UNKNOWN_EXIT, exitedAt: rec ? exitTimestamp(rec.exit) : toTimestamp() };
  }

  async kill(ns: string, id: string, execId: string, signal: number, all: boolean): Promise<void> {
    const shim = await this.requireShim(ns, id, 'kill task');
    await shim.kill(signal, { ...(execId ? { execId } : {}), ...(all ? { all } : {}) });
  }

  /** Deletes the task (it must have stopped, or never started); the shim unmounts the rootfs and exits. */
  async delete(ns: string, id: string): Promise<DeleteResult> {
    const { l, shim } = await this.shimOf(ns, id);
    let pid = l.record.pid;
    let exit: { exitStatus: number; exitedAt: Timestamp };
    if (shim) {
      const r = await shim.delete();
      pid = r.pid || pid;
      exit = { exitStatus: r.exit.status, exitedAt: exitTimestamp(r.exit) };
      shim.close();
    } else {
      exit = this.recordedExit(l, '');
    }
    this.live.delete(this.key(ns, id));
    this.store.delete(ns, id);
    await this.clearBundle(l.record.bundle).catch((err: unknown) => this.log.warn({ err, containerId: id }, 'remove bundle'));
    this.moveToTrash(this.paths(ns, id).stateDir);
    this.ctx.events.emit(ns, '/tasks/delete', { containerId: id, pid, exitStatus: exit.exitStatus, exitedAt: exit.exitedAt, id });
    return { id, pid, ...exit };
  }

  async deleteProcess(ns: string, id: string, execId: string): Promise<DeleteResult> {
    if (!execId) throw new InvalidArgumentError(`delete process of task ${id}: exec id must not be empty`);
    const shim = await this.requireShim(ns, id, 'delete process of task');
    const r = await shim.delete(execId);
    return { id: execId, pid: r.pid, exitStatus: r.exit.status, exitedAt: exitTimestamp(r.exit) };
  }

  private toProcess(record: TaskRecord, st: ProcessState | undefined, execId: string): Process {
    if (!st) {
      const rec = readRecordedExit(this.paths(record.namespace, record.containerId).stateDir);
      return {
        containerId: record.containerId, id: record.containerId, pid: record.pid, status: 'STOPPED', stdin: record.stdin, stdout: record.stdout,
        stderr: record.stderr, terminal: record.terminal, exitStatus: rec?.exit.status ?? UNKNOWN_EXIT, exitedAt: exitTimestamp(rec?.exit),
      };
    }
    return {
      containerId: record.containerId, id: execId || record.containerId, pid: st.pid, status: STATUS[st.status] ?? 'UNKNOWN',
      stdin: st.stdin, stdout: st.stdout, stderr: st.stderr, terminal: st.terminal,
      exitStatus: st.exit?.status ?? 0, exitedAt: exitTimestamp(st.exit),
    };
  }

  async get(ns: string, id: string, execId: string): Promise<Process> {
    const stopped = execId ? undefined : this.live.get(this.key(ns, id));
    const e = stopped?.exited;
    if (e) {
      // Answered here: a stopped init's state is what its exit announced (no round trip to the shim).
      const r = stopped.record;
      return {
        containerId: id, id, pid: e.pid, status: 'STOPPED', stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal,
        exitStatus: e.exit.status, exitedAt: exitTimestamp(e.exit),
      };
    }
    const { l, shim } = await this.shimOf(ns, id);
    if (!shim && execId) throw new NotFoundError(`process ${execId} of task ${id}: not found`);
    return this.toProcess(l.record, shim ? await shim.state(execId || undefined) : undefined, execId);
  }

  async list(ns: string, filter: string): Promise<Process[]> {
    const match = compileFilters(filter ? [filter] : []);
    const out: Process[] = [];
    for (const l of this.live.values()) {
      if (l.record.namespace !== ns) continue;
      let st: ProcessState | undefined;
      const shim = await this.connect(l);
      if (shim) {
        try {
          st = await shim.state();
        } catch (err) {
          if (!isUnavailable(err) && !isNotFound(err)) throw err;
        }
      }
      const p = this.toProcess(l.record, st, '');
      const field = (f: string[]) => (f[0] === 'id' || f[0] === 'container_id' ? p.containerId : f[0] === 'status' ? p.status.toLowerCase() : undefined);
      if (match(field)) out.push(p);
    }
    return out;
  }

  async exec(ns: string, req: ExecProcessRequest): Promise<void> {
    if (!req.execId) throw new InvalidArgumentError(`exec in task ${req.containerId}: exec id must not be empty`);
    const proc = unpackJson<OciProcess>(req.spec);
    if (!proc) throw new InvalidArgumentError(`exec ${req.execId} in task ${req.containerId}: process spec must be set`);
    const shim = await this.requireShim(ns, req.containerId, 'exec in task');
    await shim.exec({
      execId: req.execId, process: proc, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal,
    });
    this.ctx.events.emit(ns, '/tasks/exec-added', { containerId: req.containerId, execId: req.execId });
  }

  async resizePty(ns: string, id: string, execId: string, width: number, height: number): Promise<void> {
    // ctr resizes to its own terminal's size, 0×0 when it has none (a pipe, `script`): nothing to set then.
    if (width === 0 || height === 0) {
      await this.requireShim(ns, id, 'resize pty of task');
      return;
    }
    await (await this.requireShim(ns, id, 'resize pty of task')).resizePty(width, height, execId || undefined);
  }

  async closeIO(ns: string, id: string, execId: string, stdin: boolean): Promise<void> {
    if (stdin) await (await this.requireShim(ns, id, 'close stdin of task')).closeStdin(execId || undefined);
  }

  async pause(ns: string, id: string): Promise<void> {
    await (await this.requireShim(ns, id, 'pause task')).pause();
    this.ctx.events.emit(ns, '/tasks/paused', { containerId: id });
  }

  async resume(ns: string, id: string): Promise<void> {
    await (await this.requireShim(ns, id, 'resume task')).resume();
    this.ctx.events.emit(ns, '/tasks/resumed', { containerId: id });
  }

  async pids(ns: string, id: string): Promise<ProcessInfo[]> {
    const pids = await (await this.requireShim(ns, id, 'list pids of task')).pids();
    return pids.map((p) => ({ pid: p.pid, info: null }));
  }

  async metrics(ns: string, filters: string[]): Promise<Metric[]> {
    const match = compileFilters(filters);
    const out: Metric[] = [];
    for (const l of this.live.values()) {
      if (l.record.namespace !== ns || !match((f) => (f[0] === 'id' || f[0] === 'container_id' ? l.record.containerId : undefined))) continue;
      const shim = await this.connect(l);
      if (!shim) continue;
      try {
        out.push({ timestamp: toTimestamp(), id: l.record.containerId, data: packJson(BERTH_STATS_TYPE_URL, await shim.stats()) });
      } catch (err) {
        if (!isUnavailable(err) && !(err instanceof FailedPreconditionError) && !isNotFound(err)) throw err;
      }
    }
    return out;
  }

  async update(ns: string, id: string, resources: Any | null): Promise<void> {
    const r = unpackJson<LinuxResources>(resources);
    if (!r) throw new InvalidArgumentError(`update task ${id}: resources must be set`);
    await (await this.requireShim(ns, id, 'update task')).update(r);
  }

  /** Whether the namespace has a task for the container (containers with tasks are not deleted). */
  has(ns: string, id: string): boolean {
    return this.live.has(this.key(ns, id));
  }
}
