// One process the shim holds: the task's init or an exec. Explicit states — created → running ⇄ paused →
// stopped — and one exit path: the runtime reports the exit, output is drained, the exit is recorded durably,
// then announced (waiters, events, attach clients).
import { formatRfc3339Nano, nowNs } from '@berth/container-logs';
import { FailedPreconditionError } from '@berth/errdefs';
import type { ExitStatus as RuntimeExit } from '@berth/runtime';
import { encodeStreamFrame, STREAM_EXIT, type ExitStatus, type ProcessState, type ProcessStatus } from '@berth/shim-protocol';
import type net from 'node:net';
import type { ProcessIO } from './io.ts';

export interface ProcessOwner {
  readonly id: string;
  readonly bundle: string;
  /** Persists the exit before it is announced. */
  recordExit(proc: ShimProcess, exit: ExitStatus): void;
  announceExit(proc: ShimProcess, exit: ExitStatus): void;
  oomKilled(proc: ShimProcess): boolean;
}

export class ShimProcess {
  readonly execId: string;
  readonly io: ProcessIO;
  readonly owner: ProcessOwner;
  pid = 0;
  status: ProcessStatus = 'created';
  startedAt = '';
  exit: ExitStatus | undefined;
  private readonly waiters: ((e: ExitStatus) => void)[] = [];
  private readonly attachClients = new Set<net.Socket>();

  constructor(owner: ProcessOwner, execId: string, io: ProcessIO) {
    this.owner = owner;
    this.execId = execId;
    this.io = io;
  }

  get name(): string {
    return this.execId ? `exec ${this.execId} in task ${this.owner.id}` : `task ${this.owner.id}`;
  }

  /** The process exists (created, or for an exec started): follow its exit. */
  watch(pid: number, exited: Promise<RuntimeExit>): void {
    this.pid = pid;
    void exited.then((s) => this.onExit(s));
  }

  markStarted(): void {
    this.status = 'running';
    this.startedAt = formatRfc3339Nano(nowNs());
  }

  private async onExit(s: RuntimeExit): Promise<void> {
    const exitedAt = formatRfc3339Nano(nowNs());
    await this.io.drained();
    const exit: ExitStatus = {
      status: s.status,
      exitCode: s.exitCode,
      signal: s.signal,
      oomKilled: this.owner.oomKilled(this),
      startedAt: this.startedAt,
      exitedAt,
    };
    this.owner.recordExit(this, exit);
    this.exit = exit;
    this.status = 'stopped';
    this.io.close();
    for (const w of this.waiters.splice(0)) w(exit);
    for (const c of this.attachClients) c.end(encodeStreamFrame(STREAM_EXIT, Buffer.from(JSON.stringify(exit))));
    this.attachClients.clear();
    this.owner.announceExit(this, exit);
  }

  /** Resolves with the exit status once recorded (at once if it already is). */
  wait(): Promise<ExitStatus> {
    if (this.exit) return Promise.resolve(this.exit);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  state(): ProcessState {
    const c = this.io.config;
    return {
      id: this.owner.id, execId: this.execId, pid: this.pid, status: this.status, bundle: this.owner.bundle,
      stdin: c.stdin ?? '', stdout: c.stdout ?? '', stderr: c.stderr ?? '', terminal: c.terminal === true,
      ...(this.exit ? { exit: this.exit } : {}),
    };
  }

  /** Takes an attach connection (already answered): output from now on, stdin if asked, the exit at the end. */
  attach(socket: net.Socket, opts: { stdout?: boolean; stderr?: boolean }): void {
    if (this.exit) {
      socket.end(encodeStreamFrame(STREAM_EXIT, Buffer.from(JSON.stringify(this.exit))));
      return;
    }
    this.io.attach(socket, opts);
    this.attachClients.add(socket);
    socket.once('close', () => this.attachClients.delete(socket));
  }

  requireRunning(action: string): void {
    if (this.status === 'stopped') throw new FailedPreconditionError(`cannot ${action} ${this.name}: process already finished`);
    if (this.pid === 0) throw new FailedPreconditionError(`cannot ${action} ${this.name}: not started`);
  }
}
