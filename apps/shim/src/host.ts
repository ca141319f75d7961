// The shim process. It is the child subreaper of every container it holds and hosts their task endpoints.
//
// Two modes:
// - single task (`--id`): one endpoint on --socket/--state from the start; the process exits once that task
//   is deleted. One process per container, containerd-shim-runc-v2's model.
// - host (no `--id`): a spare listening on its own socket (--socket, --state) for `claim`s; each claim adds
//   a task endpoint, up to --capacity. Several containers then share one Node process — its ~10 MB of
//   private memory is paid once per process, not per container (docs/shim.md). A host whose tasks have all
//   been deleted is a spare again (the next container start reuses the running process); it exits on
//   `shutdown` — the spare pool trims spares it does not need.
import { FailedPreconditionError, InvalidArgumentError, ResourceExhaustedError } from '@berth/errdefs';
import { parkHelper, setChildSubreaper, startReaper, unparkHelper, type Reaper } from '@berth/runtime';
import {
  checkSocketPath, PROTOCOL_VERSION,
  type ClaimParams, type HelloResult, type Method, type ShutdownParams,
} from '@berth/shim-protocol';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { TaskEndpoint, type EndpointConfig, type EndpointHost } from './endpoint.ts';
import type { Logger } from './logger.ts';
import { ControlServer, type Handler } from './server.ts';

const TASK_ID = /^[\w+.-]{1,1024}$/;

export interface HostConfig {
  socket: string;
  stateDir: string;
  /** Single-task mode: the task. */
  task?: { id: string; namespace: string };
  capacity: number;
}

export class ShimHost implements Handler, EndpointHost {
  private readonly cfg: HostConfig;
  private readonly log: Logger;
  /** The host socket (host mode only). */
  private readonly server: ControlServer | undefined;
  private readonly endpoints = new Set<TaskEndpoint>();
  private claims = 0;
  private reaper: Reaper | undefined;
  private terminating = false;

  constructor(cfg: HostConfig, log: Logger) {
    this.cfg = cfg;
    this.log = log;
    if (!cfg.task) this.server = new ControlServer(cfg.socket, this, log);
  }

  async start(): Promise<void> {
    // Orphans of the containers (and exec'd processes' children) come back to us to be reaped.
    setChildSubreaper();
    this.reaper = startReaper({ onOrphanExit: (pid, s) => this.log.debug({ pid, status: s.status }, 'reaped orphan') });
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => this.onSignal(sig));
    if (this.cfg.task) {
      await this.add({ ...this.cfg.task, socket: this.cfg.socket, stateDir: this.cfg.stateDir });
      return;
    }
    await this.server!.listen();
    this.parkIfSpare();
  }

  /**
   * A spare with room parks a berth-nsexec ahead of its next create (parkHelper): the create then skips the
   * helper's spawn (~1 ms). Only while it has room: a full host's execs spawn theirs as they come.
   */
  private parkIfSpare(): void {
    if (this.cfg.task || this.terminating || this.endpoints.size >= this.cfg.capacity) return;
    try {
      parkHelper();
    } catch (err) {
      this.log.warn({ err }, 'park a helper');
    }
  }

  taskCreated(): void {
    this.parkIfSpare();
  }

  private async add(cfg: EndpointConfig): Promise<TaskEndpoint> {
    const ep = new TaskEndpoint(cfg, this, this.log);
    this.endpoints.add(ep);
    this.claims++;
    try {
      await ep.open();
    } catch (err) {
      this.endpoints.delete(ep);
      this.claims--;
      throw err;
    }
    this.server?.publish('load', this.load());
    return ep;
  }

  load(): { tasks: number; capacity: number } {
    return { tasks: this.endpoints.size, capacity: this.cfg.capacity };
  }

  endpointClosed(ep: TaskEndpoint): void {
    this.endpoints.delete(ep);
    this.server?.publish('load', this.load());
    if (this.cfg.task && this.endpoints.size === 0) void this.terminate();
    else this.parkIfSpare();
  }

  private onSignal(sig: string): void {
    if ([...this.endpoints].every((e) => !e.active)) {
      void this.terminate();
      return;
    }
    this.log.warn({ signal: sig }, 'ignoring signal: tasks have not been deleted');
  }

  // ---- Handler (the host socket) ----

  async handle(method: Method, params: Record<string, unknown>): Promise<unknown> {
    switch (method) {
      case 'hello':
        return this.hello();
      case 'claim':
        return this.claim(params as unknown as ClaimParams);
      case 'shutdown':
        return this.shutdown(params as ShutdownParams);
      default:
        throw new FailedPreconditionError(`${method}: this is a shim host socket; call ${method} on the task's socket`);
    }
  }

  private hello(): HelloResult {
    return { version: PROTOCOL_VERSION, pid: process.pid, id: '', namespace: '', spare: true, status: '', ...this.load() };
  }

  private async claim(p: ClaimParams): Promise<{ pid: number }> {
    if (this.terminating) throw new FailedPreconditionError('claim shim: it is shutting down');
    if (this.endpoints.size >= this.cfg.capacity) {
      throw new ResourceExhaustedError(`claim shim: it holds ${this.endpoints.size} of ${this.cfg.capacity} tasks`);
    }
    if (typeof p.id !== 'string' || !TASK_ID.test(p.id)) throw new InvalidArgumentError(`claim shim: invalid task id ${JSON.stringify(p.id)}`);
    if (typeof p.socket !== 'string' || typeof p.stateDir !== 'string' || !path.isAbsolute(p.stateDir)) {
      throw new InvalidArgumentError('claim shim: socket and stateDir must be absolute paths');
    }
    checkSocketPath(p.socket);
    for (const e of this.endpoints) {
      if (e.socket === p.socket || e.stateDir === path.resolve(p.stateDir)) {
        throw new InvalidArgumentError(`claim shim for ${p.id}: socket or state dir already used by task ${e.id}`);
      }
    }
    await this.add({ id: p.id, namespace: p.namespace ?? '', socket: p.socket, stateDir: path.resolve(p.stateDir) });
    this.log.info({ id: p.id, namespace: p.namespace }, 'claimed');
    return { pid: process.pid };
  }

  private async shutdown(p: ShutdownParams): Promise<Record<string, never>> {
    if (this.endpoints.size > 0) {
      if (!p.force) throw new FailedPreconditionError(`shutdown shim: it holds ${this.endpoints.size} tasks`);
      await Promise.all([...this.endpoints].map((e) => e.forceShutdown()));
    }
    setImmediate(() => void this.terminate());
    return {};
  }

  checkAttach(): never {
    throw new FailedPreconditionError('attach: this is a shim host socket; attach on the task\'s socket');
  }

  attach(): void {}

  afterResponse(): void {}

  /** Closes the host socket, removes the host's dir and exits. */
  private async terminate(): Promise<void> {
    if (this.terminating) return;
    this.terminating = true;
    this.log.info({ tasksServed: this.claims }, 'shim exiting');
    if (this.server) {
      // Files first: a client that sees the connection close finds them gone.
      rmSync(this.cfg.stateDir, { recursive: true, force: true });
      await this.server.close();
    }
    unparkHelper();
    this.reaper?.stop();
    process.exit(0);
  }
}
