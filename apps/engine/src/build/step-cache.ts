/**
 * The classic builder's step cache: step key → the image config and layers the step produced, one small JSON
 * file per step under `<data-root>/builder/cache` (temp + rename). What the entries refer to — layer blobs
 * and chain snapshots — is held by one runtimed lease (`berth-build-cache`), so GC keeps them while the entry
 * exists; a hit is checked against the snapshotter before use (a removed chain is a miss).
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RuntimedClient } from '@berth/containerd-api';
import type { CachedStep } from '@berth/builder';
import { isAlreadyExists, isNotFound } from '@berth/errdefs';

export const CACHE_LEASE = 'berth-build-cache';

export class StepCache {
  private readonly dir: string;
  private readonly rt: RuntimedClient;
  private readonly snapshotter: string;
  private readonly retained = new Set<string>();
  /** Chains seen to exist (snapshots only go away through GC, which the cache lease holds off, or by hand). */
  private readonly present = new Set<string>();
  private leaseReady: Promise<void> | undefined;

  constructor(dir: string, rt: RuntimedClient, snapshotter: string) {
    this.dir = dir;
    this.rt = rt;
    this.snapshotter = snapshotter;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }

  private ensureLease(): Promise<void> {
    this.leaseReady ??= (async () => {
      try {
        await this.rt.leases.create(CACHE_LEASE, { 'io.berth.build': 'cache' });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      for (const r of await this.rt.leases.listResources(CACHE_LEASE)) this.retained.add(`${r.type}|${r.id}`);
    })();
    this.leaseReady.catch(() => (this.leaseReady = undefined));
    return this.leaseReady;
  }

  async get(key: string, chainId: (step: CachedStep) => string): Promise<CachedStep | undefined> {
    let step: CachedStep;
    try {
      step = JSON.parse(readFileSync(this.file(key), 'utf8')) as CachedStep;
    } catch {
      return undefined;
    }
    const chain = chainId(step);
    if (chain && !(await this.chainExists(chain))) {
      rmSync(this.file(key), { force: true });
      return undefined;
    }
    return step;
  }

  /** Whether a chain's snapshot exists (remembered once seen). */
  async chainExists(chain: string): Promise<boolean> {
    if (this.present.has(chain)) return true;
    try {
      await this.rt.snapshots.stat(chain, this.snapshotter);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    this.present.add(chain);
    return true;
  }

  /** A chain was just committed or unpacked. */
  sawChain(chain: string): void {
    this.present.add(chain);
  }

  /** A chain may be gone (removed image, failed unpack). */
  forgetChain(chain: string): void {
    this.present.delete(chain);
  }

  async put(key: string, step: CachedStep, chainIds: string[]): Promise<void> {
    await this.ensureLease();
    const resources = [
      ...step.layers.map((l) => ({ id: l.digest, type: 'content' })),
      ...chainIds.map((c) => ({ id: c, type: `snapshots/${this.snapshotter}` })),
    ];
    for (const r of resources) {
      const k = `${r.type}|${r.id}`;
      if (this.retained.has(k)) continue;
      await this.rt.leases.addResource(CACHE_LEASE, r);
      this.retained.add(k);
    }
    // temp + rename without fsync: an entry lost to a power cut is only a cache miss (an unreadable one too).
    const tmp = `${this.file(key)}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(step), { mode: 0o600 });
    renameSync(tmp, this.file(key));
  }

  /** Forgets every entry and lets GC take what only the cache held (`docker builder prune`). */
  async prune(): Promise<number> {
    let n = 0;
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      rmSync(path.join(this.dir, f), { force: true });
      n++;
    }
    await this.rt.leases.delete(CACHE_LEASE, true).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    this.retained.clear();
    this.present.clear();
    this.leaseReady = undefined;
    return n;
  }
}
