// Warm shim processes, so that creating a task never waits for a Node process to start. The pool keeps
// *hosts*: berth-shim processes started without a task, each taking up to `tasksPerShim` tasks through
// `claim` on its own socket (each task then has a socket and state dir of its own). A claim goes to the
// fullest host with room (so processes are shared as much as allowed), and the pool launches a new host in
// the background whenever fewer than `size` free slots remain. A host whose tasks have all been deleted is a
// spare again; the pool shuts down spare hosts it has not needed for a while. Hosts left by a previous run of
// the caller are adopted on start().
import { FailedPreconditionError, ResourceExhaustedError, UnavailableError } from '@berth/errdefs';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ShimClient } from './client.ts';
import { launchShim, type LaunchShimOptions } from './launch.ts';
import { PROTOCOL_VERSION, type ClaimParams } from './messages.ts';

/** Containers per shim process unless the caller says otherwise. */
export const DEFAULT_TASKS_PER_SHIM = 1;

export interface SparePoolOptions {
  /** The berth-shim executable (see LaunchShimOptions.binary). */
  binary: string;
  /** Where hosts keep their sockets and own files; on the same filesystem as the tasks' state dirs. */
  dir: string;
  /** Free task slots kept ready (0: every claim may launch a process). */
  size: number;
  /**
   * Tasks one shim process takes (default DEFAULT_TASKS_PER_SHIM). A Node process costs ~13 MB of private
   * memory, containerd-shim-runc-v2 ~2.4 MB: sharing a process between containers is what brings berth's
   * per-container overhead under docker's (docs/shim.md has the figures), at the price of a shared fate if
   * the process dies. The default, 1, is berth's design: one process per container, as containerd's shim
   * for docker; runtimed's `--tasks-per-shim` opts into sharing.
   */
  tasksPerShim?: number;
  /**
   * Wait this long after a claim before launching a replacement (default 0), so that a burst of task
   * creations does not compete with Node start-ups for the CPU; claims within the delay share one refill.
   */
  refillDelayMs?: number;
  nodeFlags?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Told about failures to launch a host in the background (the next claim launches one directly). */
  onError?: (err: Error) => void;
  /** A spare host beyond what `size` needs is shut down after it has been idle this long (default 10 s). */
  idleMs?: number;
}

interface Host {
  client: ShimClient;
  tasks: number;
  capacity: number;
  /** A claim is on its way to it (counted in `tasks` already). */
  pending: number;
  /** Shuts it down if it is still a surplus spare when this fires. */
  idle?: NodeJS.Timeout;
}

export class SparePool {
  private readonly opts: SparePoolOptions;
  private readonly hosts = new Set<Host>();
  private launching = 0;
  /** Hosts being launched; close() waits for them so none outlives the pool's owner. */
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;
  private refillTimer: NodeJS.Timeout | undefined;

  constructor(opts: SparePoolOptions) {
    this.opts = opts;
  }

  private get perShim(): number {
    return Math.max(1, this.opts.tasksPerShim ?? DEFAULT_TASKS_PER_SHIM);
  }

  /** Adopts the hosts a previous run left in `dir` (dead ones are removed), then fills the pool. */
  async start(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o711 });
    await Promise.all(readdirSync(this.opts.dir).map(async (name) => {
      const dir = path.join(this.opts.dir, name);
      try {
        const c = await ShimClient.connect(path.join(dir, 'shim.sock'), { timeoutMs: 1000 });
        if (c.info.spare) this.track(c);
        else c.close();
      } catch {
        rmSync(dir, { recursive: true, force: true });
      }
    }));
    this.trim();
    this.refill();
  }

  /** Free task slots in running hosts now. */
  get available(): number {
    let free = 0;
    for (const h of this.hosts) free += Math.max(0, h.capacity - h.tasks);
    return free;
  }

  /** Shim processes the pool knows (with or without tasks). */
  get processes(): number {
    return this.hosts.size;
  }

  /**
   * A shim for the task: a slot in a running host if there is one, else in a host launched now. Returns a
   * client connected to the task's socket, with events on.
   */
  async claim(p: ClaimParams): Promise<ShimClient> {
    if (this.closed) throw new FailedPreconditionError('claim a shim: the spare pool is closed');
    for (;;) {
      const host = this.pick() ?? await this.launchNow();
      clearTimeout(host.idle);
      host.idle = undefined;
      host.tasks++;
      host.pending++;
      this.refillLater();
      try {
        await host.client.claim(p);
      } catch (err) {
        host.tasks--;
        host.pending--;
        if (err instanceof UnavailableError) continue; // died meanwhile: try another
        if (err instanceof ResourceExhaustedError) {
          host.tasks = host.capacity; // full after all (claims from elsewhere): try another
          continue;
        }
        throw err;
      }
      host.pending--;
      return ShimClient.connect(p.socket);
    }
  }

  /** The fullest host with room. */
  private pick(): Host | undefined {
    let best: Host | undefined;
    for (const h of this.hosts) {
      if (h.tasks >= h.capacity) continue;
      if (!best || h.tasks > best.tasks) best = h;
    }
    return best;
  }

  private async launchNow(): Promise<Host> {
    const c = await this.launchHost();
    return this.track(c);
  }

  /** Waits until `n` free slots are ready (tests and benchmarks). */
  async waitReady(n = this.opts.size, timeoutMs = 30_000): Promise<void> {
    if (this.available >= n) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.changed.delete(check);
        reject(new FailedPreconditionError(`spare pool: ${this.available} of ${n} free slots ready after ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (this.available < n) return;
        clearTimeout(timer);
        this.changed.delete(check);
        resolve();
      };
      this.changed.add(check);
    });
  }

  /** Called whenever the free slots may have changed. */
  private readonly changed = new Set<() => void>();

  private notify(): void {
    for (const f of [...this.changed]) f();
  }

  /**
   * Shuts down the hosts that hold no task, and lets go of the others (their tasks go on). With `keepSpares`
   * the empty ones are left running too, for the next start() in this directory to adopt.
   */
  async close(opts: { keepSpares?: boolean } = {}): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    await Promise.all([...this.inflight]);
    const hosts = [...this.hosts];
    this.hosts.clear();
    for (const h of hosts) clearTimeout(h.idle);
    await Promise.all(hosts.map(async (h) => {
      // Our count may lag a task deleted a moment ago: ask.
      const tasks = h.tasks === 0 ? 0 : await h.client.call('hello', { version: PROTOCOL_VERSION }).then((i) => i.tasks, () => -1);
      if (!opts.keepSpares && tasks === 0) {
        // The host removes its files, then closes its connections: wait for that, briefly.
        const gone = new Promise<void>((r) => {
          h.client.once('close', () => r());
          setTimeout(r, 2000).unref();
        });
        await h.client.shutdown().then(() => gone, () => {});
      }
      h.client.close();
    }));
  }

  private launchOptions(): Omit<LaunchShimOptions, 'socket' | 'stateDir'> {
    return {
      binary: this.opts.binary,
      capacity: this.perShim,
      ...(this.opts.nodeFlags ? { nodeFlags: this.opts.nodeFlags } : {}),
      ...(this.opts.env ? { env: this.opts.env } : {}),
    };
  }

  private track(c: ShimClient): Host {
    const h: Host = { client: c, tasks: c.info.tasks, capacity: c.info.capacity, pending: 0 };
    this.hosts.add(h);
    c.on('load', (l) => {
      h.tasks = l.tasks + h.pending;
      h.capacity = l.capacity;
      this.trim();
      this.refill();
      this.notify();
    });
    c.once('close', () => {
      clearTimeout(h.idle);
      if (this.hosts.delete(h)) this.refill();
    });
    this.notify();
    return h;
  }

  /**
   * Shuts down empty hosts beyond what `size` needs once they have been idle for `idleMs` (a host whose tasks
   * are gone is a spare again; in a burst or a loop of short containers it is reused instead of relaunched).
   */
  private trim(): void {
    if (this.closed) return;
    let free = this.available;
    for (const h of this.hosts) {
      const surplus = h.tasks === 0 && h.pending === 0 && free - h.capacity >= this.opts.size;
      if (!surplus) {
        clearTimeout(h.idle);
        h.idle = undefined;
        continue;
      }
      free -= h.capacity;
      h.idle ??= setTimeout(() => {
        h.idle = undefined;
        if (h.tasks > 0 || h.pending > 0 || this.available - h.capacity < this.opts.size || !this.hosts.delete(h)) return;
        void h.client.shutdown().catch(() => {}).finally(() => h.client.close());
      }, this.opts.idleMs ?? 10_000);
      h.idle.unref();
    }
  }

  /** Refills after the configured delay (launching a Node process is kept off the claim's path). */
  private refillLater(): void {
    if (this.closed || this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, this.opts.refillDelayMs ?? 0);
    this.refillTimer.unref();
  }

  private refill(): void {
    while (!this.closed && this.available + this.launching * this.perShim < this.opts.size) {
      this.launching++;
      const p = this.launchSpare().finally(() => {
        this.launching--;
        this.inflight.delete(p);
      });
      this.inflight.add(p);
    }
  }

  private async launchSpare(): Promise<void> {
    try {
      const c = await this.launchHost();
      if (this.closed) {
        await c.shutdown().catch(() => {});
        c.close();
        return;
      }
      this.track(c);
    } catch (err) {
      this.opts.onError?.(err as Error);
    }
  }

  private async launchHost(): Promise<ShimClient> {
    const dir = path.join(this.opts.dir, randomBytes(6).toString('hex'));
    try {
      const launched = await launchShim({ ...this.launchOptions(), socket: path.join(dir, 'shim.sock'), stateDir: dir });
      return await ShimClient.connect(launched.socket);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
}
