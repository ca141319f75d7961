/**
 * One container in memory: its persisted record plus what only lives while berthd runs — an operation lock
 * (lifecycle operations on one container run one at a time), waiters for `wait`, exit listeners for attach
 * streams, the stdin pipe and timers (restart backoff, health checks).
 */
import path from 'node:path';
import { ConflictError, FailedPreconditionError } from '@berth/errdefs';
import type { ContainerView } from '../extensions.ts';
import type { ContainerRecord, StateName } from './record.ts';
import type { StdinPipe } from './stdio.ts';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface ExitInfo { exitCode: number; error?: string }

export class Container {
  rec: ContainerRecord;
  readonly dir: string;
  private chain: Promise<unknown> = Promise.resolve();
  /** Resolved at every exit (next-exit) and on removal. */
  private exitWaiters: ((e: ExitInfo) => void)[] = [];
  private removeWaiters: ((e: ExitInfo) => void)[] = [];
  /** Output followers end when the task they follow ends. */
  private taskEnd: { promise: Promise<void>; resolve: () => void } = deferred();
  stdin: StdinPipe | undefined;
  /** Resolves once the current task holds its stdin (closing our end before would drop buffered input). */
  stdinConsumer: Promise<void> | undefined;
  stdinConsumerReady: (() => void) | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  /** Set while `stop`/`kill --rm`/`rm -f` is ending the task on purpose: no restart policy for that exit. */
  stopping = false;
  removing = false;
  removed = false;
  /** Exec ids of this container (Docker's `ExecIDs`). */
  readonly execIds = new Set<string>();
  healthTimer: NodeJS.Timeout | undefined;
  /** The task watch (tasks.wait) is armed. */
  watching = false;
  /** runtimed holds nothing for this container (no task, no container record) as far as we know. */
  runtimeClean = false;
  /** OOM seen for the current task. */
  oomKilled = false;

  constructor(rec: ContainerRecord, root: string) {
    this.rec = rec;
    this.dir = path.join(root, rec.Id);
  }

  get id(): string {
    return this.rec.Id;
  }

  /** Without the leading slash. */
  get name(): string {
    return this.rec.Name.replace(/^\//, '');
  }

  get status(): StateName {
    return this.rec.State.Status;
  }

  get running(): boolean {
    return this.rec.State.Status === 'running' || this.rec.State.Status === 'paused' || this.rec.State.Status === 'restarting';
  }

  /** The task exists (running or paused). */
  get hasTask(): boolean {
    return this.rec.State.Status === 'running' || this.rec.State.Status === 'paused';
  }

  get paused(): boolean {
    return this.rec.State.Status === 'paused';
  }

  get shortId(): string {
    return this.rec.Id.slice(0, 12);
  }

  /** Runs `fn` after every earlier operation on this container has finished. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  view(): ContainerView {
    return {
      id: this.rec.Id,
      name: this.name,
      config: this.rec.Config,
      hostConfig: this.rec.HostConfig,
      endpointsConfig: this.rec.EndpointsConfig,
      dir: this.dir,
      pid: this.hasTask ? this.rec.State.Pid : 0,
      running: this.hasTask,
    };
  }

  /** Resolves at the container's next exit (or removal). */
  nextExit(): Promise<ExitInfo> {
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  /** Resolves when the container is removed. */
  whenRemoved(): Promise<ExitInfo> {
    if (this.removed) return Promise.resolve({ exitCode: this.rec.State.ExitCode });
    return new Promise((resolve) => this.removeWaiters.push(resolve));
  }

  notifyExit(e: ExitInfo): void {
    const ws = this.exitWaiters;
    this.exitWaiters = [];
    for (const w of ws) w(e);
  }

  notifyRemoved(): void {
    this.removed = true;
    const e = { exitCode: this.rec.State.ExitCode };
    this.notifyExit(e);
    const ws = this.removeWaiters;
    this.removeWaiters = [];
    for (const w of ws) w(e);
    this.taskEnded();
  }

  /** Settles when the current task ends (or, while there is none, the next one). */
  get taskEnds(): Promise<void> {
    return this.taskEnd.promise;
  }

  taskEnded(): void {
    this.taskEnd.resolve();
    this.taskEnd = deferred();
  }

  // Docker's state errors.
  assertNotRemoving(): void {
    if (this.removing) throw new ConflictError(`removal of container ${this.rec.Id} is already in progress`);
  }

  assertRunning(): void {
    if (!this.hasTask) throw new ConflictError(`Container ${this.rec.Id} is not running`);
  }

  assertNotPaused(): void {
    if (this.paused) throw new ConflictError(`Container ${this.rec.Id} is paused, unpause the container before exec`);
  }

  assertState(ok: boolean, message: string): void {
    if (!ok) throw new FailedPreconditionError(message);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
