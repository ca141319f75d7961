// One task as its callers see it: a control socket and a state dir of its own, answering the protocol for
// that task. When the task is deleted (or shut down) the endpoint removes its socket and state dir and tells
// the host, which exits once it holds no task.
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import {
  PROTOCOL_VERSION,
  type AttachParams, type CreateParams, type ExecIdParams, type ExecParams, type HelloResult, type KillParams, type Method,
  type ResizeParams, type ShutdownParams, type UpdateParams,
} from '@berth/shim-protocol';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import type net from 'node:net';
import type { Logger } from './logger.ts';
import { ControlServer, type Handler } from './server.ts';
import { Task } from './task.ts';

export interface EndpointConfig {
  id: string;
  namespace: string;
  socket: string;
  stateDir: string;
}

/** What an endpoint needs from the process that hosts it. */
export interface EndpointHost {
  load(): { tasks: number; capacity: number };
  endpointClosed(ep: TaskEndpoint): void;
  /** A task of this host was created (answered). */
  taskCreated?(): void;
}

export class TaskEndpoint implements Handler {
  readonly id: string;
  readonly namespace: string;
  readonly stateDir: string;
  private readonly server: ControlServer;
  private readonly host: EndpointHost;
  private readonly log: Logger;
  private task: Task | undefined;
  private creating = false;
  private closing: Promise<void> | undefined;

  constructor(cfg: EndpointConfig, host: EndpointHost, log: Logger) {
    this.id = cfg.id;
    this.namespace = cfg.namespace;
    this.stateDir = cfg.stateDir;
    this.host = host;
    this.log = log.child({ id: cfg.id, namespace: cfg.namespace });
    this.server = new ControlServer(cfg.socket, this, this.log);
  }

  get socket(): string {
    return this.server.socketPath;
  }

  /** Creates the state dir (absent or empty) and listens. */
  async open(): Promise<void> {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o711 });
    if (readdirSync(this.stateDir).some((f) => f !== 'shim.log')) {
      throw new AlreadyExistsError(`shim for task ${this.id}: state dir ${this.stateDir} is not empty`);
    }
    await this.server.listen();
  }

  /** A task that exists and has not been deleted (it keeps the process alive through signals). */
  get active(): boolean {
    return this.task !== undefined && !this.task.isDeleted;
  }

  // ---- Handler ----

  async handle(method: Method, params: Record<string, unknown>): Promise<unknown> {
    switch (method) {
      case 'hello':
        return this.hello();
      case 'claim':
        throw new FailedPreconditionError(`claim shim: already the shim of task ${this.id}`);
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
      version: PROTOCOL_VERSION, pid: process.pid, id: this.id, namespace: this.namespace, spare: false,
      status: this.task ? this.task.init.status : '', ...this.host.load(),
    };
  }

  private async create(p: CreateParams): Promise<number> {
    if (this.task || this.creating) throw new AlreadyExistsError(`create task ${this.id}: already exists`);
    if (this.closing) throw new FailedPreconditionError(`create task ${this.id}: the shim is shutting down`);
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
    if (!this.task) throw new NotFoundError(`task ${this.id}: not created`);
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
    if (method === 'create') this.host.taskCreated?.();
    if (method === 'delete' && this.task?.isDeleted) void this.close();
  }

  private async shutdown(p: ShutdownParams): Promise<Record<string, never>> {
    const task = this.task;
    if (task && !task.isDeleted) {
      if (!p.force) throw new FailedPreconditionError(`shutdown shim of task ${this.id}: the task has not been deleted`);
      await task.killAll();
      await task.delete();
    }
    setImmediate(() => void this.close());
    return {};
  }

  /** Kills and deletes the task (host shutdown with force). */
  async forceShutdown(): Promise<void> {
    if (this.task && !this.task.isDeleted) {
      await this.task.killAll();
      await this.task.delete();
    }
    await this.close();
  }

  /** Closes the socket (ending connections), removes the state dir, and tells the host. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Files first: a client that sees the connection close finds them gone. The host counts the task gone
      // as soon as its socket stops listening, not once every client has hung up.
      rmSync(this.stateDir, { recursive: true, force: true });
      const closed = this.server.close();
      this.log.info('task endpoint closed');
      this.host.endpointClosed(this);
      await closed;
    })();
    return this.closing;
  }
}
