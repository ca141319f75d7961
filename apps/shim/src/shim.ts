// The shim process: a spare until claimed, then the keeper of one task. It answers the control protocol,
// publishes exits and OOMs, and exits — removing its socket and state dir — only once its task is deleted
// (or on shutdown while it has none).
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { setChildSubreaper, startReaper, type Reaper } from '@berth/runtime';
import {
  checkSocketPath,
  type AttachParams, type ClaimParams, type CreateParams, type ExecIdParams, type ExecParams, type HelloResult,
  type KillParams, type Method, type ResizeParams, type ShutdownParams, type UpdateParams,
} from '@berth/shim-protocol';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import type { Logger } from './logger.ts';
import { ControlServer, type Handler } from './server.ts';
import { Task } from './task.ts';

const TASK_ID = /^[\w+.-]{1,1024}$/;

export interface ShimConfig {
  socket: string;
  stateDir: string;
  id: string;
  namespace: string;
}

export class Shim implements Handler {
  private id: string;
  private namespace: string;
  private stateDir: string;
  private readonly server: ControlServer;
  private log: Logger;
  private task: Task | undefined;
  private creating = false;
  private reaper: Reaper | undefined;
  private terminating = false;

  constructor(cfg: ShimConfig, log: Logger) {
    this.id = cfg.id;
    this.namespace = cfg.namespace;
    this.stateDir = cfg.stateDir;
    this.log = log;
    this.server = new ControlServer(cfg.socket, this, log);
  }

  get spare(): boolean {
    return this.id === '';
  }

  async start(): Promise<void> {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o711 });
    // Orphans of the container (and exec'd processes' children) come back to us to be reaped.
    setChildSubreaper();
    this.reaper = startReaper({ onOrphanExit: (pid, s) => this.log.debug({ pid, status: s.status }, 'reaped orphan') });
    await this.server.listen();
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => this.onSignal(sig));
  }

  private onSignal(sig: string): void {
    if (!this.task || this.task.isDeleted) {
      void this.terminate(0);
      return;
    }
    this.log.warn({ signal: sig }, 'ignoring signal: the task has not been deleted');
  }

  // ---- Handler ----

  async handle(method: Method, params: Record<string, unknown>): Promise<unknown> {
    switch (method) {
      case 'hello':
        return this.hello();
      case 'claim':
        return this.claim(params as unknown as ClaimParams);
      case 'create':
        return { pid: await this.create(params as unknown as CreateParams) };
      case 'shutdown':
        return this.shutdown(params as ShutdownParams);
      default:
        return this.taskCall(method, params);
    }
  }

  private hello(): HelloResult {
    return {
      version: 1, pid: process.pid, id: this.id, namespace: this.namespace, spare: this.spare,
      status: this.task ? this.task.init.status : '',
    };
  }

  private claim(p: ClaimParams): { pid: number } {
    if (!this.spare) throw new FailedPreconditionError(`claim shim: already the shim of task ${this.id}`);
    if (typeof p.id !== 'string' || !TASK_ID.test(p.id)) throw new InvalidArgumentError(`claim shim: invalid task id ${JSON.stringify(p.id)}`);
    if (typeof p.socket !== 'string' || typeof p.stateDir !== 'string' || !path.isAbsolute(p.stateDir)) {
      throw new InvalidArgumentError('claim shim: socket and stateDir must be absolute paths');
    }
    checkSocketPath(p.socket);
    const oldDir = this.stateDir;
    const oldSocket = this.server.socketPath;
    const newDir = path.resolve(p.stateDir);
    mkdirSync(path.dirname(newDir), { recursive: true, mode: 0o711 });
    try {
      renameSync(oldDir, newDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new AlreadyExistsError(`claim shim for ${p.id}: state dir ${newDir} exists and is not empty`);
      throw err;
    }
    const moved = oldSocket.startsWith(`${oldDir}/`) ? path.join(newDir, oldSocket.slice(oldDir.length + 1)) : oldSocket;
    try {
      if (moved !== p.socket) {
        mkdirSync(path.dirname(p.socket), { recursive: true, mode: 0o711 });
        renameSync(moved, p.socket);
      }
    } catch (err) {
      renameSync(newDir, oldDir);
      throw err;
    }
    this.server.socketPath = p.socket;
    this.stateDir = newDir;
    this.id = p.id;
    this.namespace = p.namespace ?? '';
    this.log = this.log.child({ id: this.id, namespace: this.namespace });
    this.log.info('claimed');
    return { pid: process.pid };
  }

  private async create(p: CreateParams): Promise<number> {
    if (this.spare) throw new FailedPreconditionError('create task: this shim is a spare; claim it first');
    if (this.task || this.creating) throw new AlreadyExistsError(`create task ${this.id}: already exists`);
    this.creating = true;
    try {
      const task = new Task({ id: this.id, namespace: this.namespace, stateDir: this.stateDir, log: this.log });
      const pid = await task.create(p);
      task.on('exit', (e) => this.server.publish('exit', e));
      task.on('oom', (e) => this.server.publish('oom', e));
      this.task = task;
      this.log.info({ initPid: pid }, 'created');
      return pid;
    } finally {
      this.creating = false;
    }
  }

  private requireTask(): Task {
    if (!this.task) throw new NotFoundError(`task ${this.id || '(spare)'}: not created`);
    if (this.task.isDeleted) throw new NotFoundError(`task ${this.id}: deleted`);
    return this.task;
  }

  private async taskCall(method: Method, params: Record<string, unknown>): Promise<unknown> {
    const task = this.requireTask();
    const execId = (params as ExecIdParams).execId || undefined;
    switch (method) {
      case 'start':
        return { pid: await task.start(execId) };
      case 'state':
        return task.process(execId).state();
      case 'kill': {
        const p = params as unknown as KillParams;
        await task.kill(p.signal, { ...(execId ? { execId } : {}), all: p.all === true });
        return {};
      }
      case 'delete':
        return task.delete(execId);
      case 'exec':
        task.exec(params as unknown as ExecParams);
        return {};
      case 'resizePty': {
        const p = params as unknown as ResizeParams;
        if (!Number.isInteger(p.width) || !Number.isInteger(p.height) || p.width <= 0 || p.height <= 0) {
          throw new InvalidArgumentError(`resize ${task.process(execId).name}: width and height must be positive integers`);
        }
        task.process(execId).io.resize(p.width, p.height);
        return {};
      }
      case 'closeStdin':
        task.process(execId).io.closeStdin();
        return {};
      case 'pids':
        return task.pids();
      case 'pause':
        await task.pause();
        return {};
      case 'resume':
        await task.resume();
        return {};
      case 'update':
        task.update((params as unknown as UpdateParams).resources);
        return {};
      case 'stats':
        return task.stats();
      case 'wait':
        return task.process(execId).wait();
      default:
        throw new InvalidArgumentError(`unknown method ${method}`);
    }
  }

  checkAttach(p: AttachParams): { write(data: Buffer): void; close(): void } {
    const proc = this.requireTask().process(p.execId || undefined);
    if (p.stdin && !proc.io.hasStdin) throw new FailedPreconditionError(`attach stdin of ${proc.name}: it was created without stdin`);
    return { write: (d) => proc.io.writeStdin(d), close: () => proc.io.endStdin() };
  }

  attach(socket: net.Socket, p: AttachParams): void {
    this.requireTask().process(p.execId || undefined).attach(socket, { stdout: p.stdout === true, stderr: p.stderr === true });
  }

  afterResponse(method: Method): void {
    if (method === 'delete' && this.task?.isDeleted) void this.terminate(0);
  }

  private async shutdown(p: ShutdownParams): Promise<Record<string, never>> {
    const task = this.task;
    if (task && !task.isDeleted) {
      if (!p.force) throw new FailedPreconditionError(`shutdown shim of task ${this.id}: the task has not been deleted`);
      await task.killAll();
      await task.delete();
    }
    setImmediate(() => void this.terminate(0));
    return {};
  }

  /** Closes the socket, removes the state dir and exits. */
  private async terminate(code: number): Promise<void> {
    if (this.terminating) return;
    this.terminating = true;
    this.log.info('shim exiting');
    await this.server.close();
    this.reaper?.stop();
    rmSync(this.stateDir, { recursive: true, force: true });
    process.exit(code);
  }
}
