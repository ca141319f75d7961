// Warm spare shims, so that creating a task never waits for a Node process to start: a spare is a berth-shim
// already running and connected, with a temporary socket and state dir under the pool's directory; claiming it
// renames both to the task's paths and gives it the task id (one round trip). The pool refills in the
// background. Spares left by a previous run of the caller are adopted on start().
import { FailedPreconditionError, UnavailableError } from '@berth/errdefs';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ShimClient } from './client.ts';
import { launchShim, type LaunchShimOptions } from './launch.ts';
import type { ClaimParams } from './messages.ts';

export interface SparePoolOptions {
  /** The berth-shim executable (see LaunchShimOptions.binary). */
  binary: string;
  /** Where spares keep their sockets and state; on the same filesystem as the tasks' state dirs. */
  dir: string;
  /** Spares kept ready (0: every claim launches a shim). */
  size: number;
  /**
   * Wait this long after a claim before launching its replacement (default 0), so that a burst of task
   * creations does not compete with Node start-ups for the CPU; claims within the delay share one refill.
   */
  refillDelayMs?: number;
  nodeFlags?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Told about failures to launch a spare in the background (the next claim launches one directly). */
  onError?: (err: Error) => void;
}

export class SparePool {
  private readonly opts: SparePoolOptions;
  private readonly ready: ShimClient[] = [];
  private launching = 0;
  /** Spares being launched; close() waits for them so none outlives the pool's owner. */
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;
  private refillTimer: NodeJS.Timeout | undefined;

  constructor(opts: SparePoolOptions) {
    this.opts = opts;
  }

  /** Adopts spares a previous run left in `dir` (connected; dead ones are removed), then fills the pool. */
  async start(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o711 });
    for (const name of readdirSync(this.opts.dir)) {
      const stateDir = path.join(this.opts.dir, name);
      try {
        const c = await ShimClient.connect(path.join(stateDir, 'shim.sock'), { timeoutMs: 1000 });
        if (c.info.spare && this.ready.length < this.opts.size) this.keep(c);
        else {
          if (c.info.spare) await c.shutdown().catch(() => {});
          c.close();
        }
      } catch {
        rmSync(stateDir, { recursive: true, force: true });
      }
    }
    this.refill();
  }

  /** Spares ready now. */
  get available(): number {
    return this.ready.length;
  }

  /** A shim for the task: a ready spare if there is one, else one launched now. Connected, with events on. */
  async claim(p: ClaimParams & { namespace?: string }): Promise<ShimClient> {
    if (this.closed) throw new FailedPreconditionError('claim a shim: the spare pool is closed');
    for (;;) {
      const spare = this.ready.shift();
      if (!spare) break;
      this.scheduleRefill();
      try {
        await spare.claim(p);
        return spare;
      } catch (err) {
        if (err instanceof UnavailableError) {
          spare.close(); // died meanwhile: take the next one
          continue;
        }
        this.keep(spare); // the claim was refused (bad paths, …): the spare is still a spare
        throw err;
      }
    }
    this.scheduleRefill();
    const launched = await launchShim({
      ...this.launchOptions(), socket: p.socket, stateDir: p.stateDir, id: p.id, ...(p.namespace ? { namespace: p.namespace } : {}),
    });
    return ShimClient.connect(launched.socket);
  }

  /** Waits until `n` spares are ready (tests and benchmarks). */
  async waitReady(n = this.opts.size, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.ready.length < n) {
      if (Date.now() > deadline) throw new FailedPreconditionError(`spare pool: ${this.ready.length} of ${n} spares ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Shuts the ready spares down (claimed shims are not the pool's any more). With `keepSpares` it only lets go
   * of them, for the next start() in this directory to adopt.
   */
  async close(opts: { keepSpares?: boolean } = {}): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    await Promise.all([...this.inflight]);
    const spares = this.ready.splice(0);
    await Promise.all(spares.map(async (c) => {
      if (!opts.keepSpares) await c.shutdown().catch(() => {});
      c.close();
    }));
  }

  private launchOptions(): Omit<LaunchShimOptions, 'socket' | 'stateDir'> {
    return {
      binary: this.opts.binary,
      ...(this.opts.nodeFlags ? { nodeFlags: this.opts.nodeFlags } : {}),
      ...(this.opts.env ? { env: this.opts.env } : {}),
    };
  }

  private keep(c: ShimClient): void {
    this.ready.push(c);
    c.once('close', () => {
      const i = this.ready.indexOf(c);
      if (i >= 0) {
        this.ready.splice(i, 1);
        this.refill();
      }
    });
  }

  /** Refills later (spawning a Node process is not done on the claim's path). */
  private scheduleRefill(): void {
    if (this.closed || this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, this.opts.refillDelayMs ?? 0);
    this.refillTimer.unref();
  }

  private refill(): void {
    while (!this.closed && this.ready.length + this.launching < this.opts.size) {
      this.launching++;
      const p = this.launchSpare().finally(() => {
        this.launching--;
        this.inflight.delete(p);
      });
      this.inflight.add(p);
    }
  }

  private async launchSpare(): Promise<void> {
    const stateDir = path.join(this.opts.dir, randomBytes(6).toString('hex'));
    try {
      const launched = await launchShim({ ...this.launchOptions(), socket: path.join(stateDir, 'shim.sock'), stateDir });
      const c = await ShimClient.connect(launched.socket);
      if (this.closed) {
        await c.shutdown().catch(() => {});
        c.close();
        return;
      }
      this.keep(c);
    } catch (err) {
      rmSync(stateDir, { recursive: true, force: true });
      this.opts.onError?.(err as Error);
    }
  }
}
