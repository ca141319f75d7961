// A container's cgroup across hierarchies: the interface both drivers (v1/hybrid, v2) implement, and the
// helpers they share. The TypeScript side creates the cgroups and writes limits; berth-nsexec only writes its
// own pid to the cgroup.procs files listed by procsFiles().
import { InvalidArgumentError, errorFromCode, codeOf } from '@berth/errdefs';
import type { LinuxResources } from '@berth/oci';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CgroupLayout } from './layout.ts';
import type { CgroupStats } from './stats.ts';

/**
 * How berth-nsexec puts a new process in its cgroups. Moving a process by pid (cgroup.procs) takes the kernel's
 * global threadgroup lock for writing, which waits for an RCU grace period (7–12 ms measured here); moving
 * only the calling thread (writing "0" to a v1 `tasks` file) does not take it. The helper is single-threaded,
 * so it moves itself through `tasks` before cloning and the child is born in those cgroups.
 */
export interface JoinPlan {
  /** v1 `tasks` files the helper writes "0" to before it clones (the child inherits them) */
  tasks: string[];
  /** cgroup.procs files the helper writes the child's pid to after cloning */
  procs: string[];
  /** a cgroup2 directory to clone the child straight into (CLONE_INTO_CGROUP) */
  cgroupDir?: string;
}

export interface Cgroup {
  readonly layout: CgroupLayout;
  /** The container's path relative to each hierarchy root, e.g. `/docker/abc`. */
  readonly path: string;
  /** Every directory of this cgroup (one per v1 hierarchy, plus the unified one). */
  dirs(): string[];
  /** The cgroup.procs files a process writes its pid to in order to join. */
  procsFiles(): string[];
  /**
   * How a new process joins (see JoinPlan). `resources`: the limits a cgroup about to be created will get;
   * without them, the cgroup's current limits count.
   */
  joinPlan(resources?: LinuxResources): JoinPlan;
  /** Creates the directories (and, in v2, enables controllers on the way down), then applies `resources`. */
  create(resources?: LinuxResources): void;
  /** Applies resource limits (docker update). Unset fields are left alone. */
  update(resources: LinuxResources): void;
  /** Every pid in the cgroup, including nested cgroups. */
  pids(): number[];
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  isFrozen(): boolean;
  stats(): CgroupStats;
  /** Calls `onOom` on every OOM in the cgroup; returns a function that stops watching. */
  watchOom(onOom: () => void): () => void;
  /** The kernel's count of OOM kills in the cgroup (0 where the kernel does not say). */
  oomKillCount(): number;
  /** Removes the directories (deepest first), waiting briefly for exiting processes to leave. */
  destroy(): Promise<void>;
}

/** A plain timer promise (node:timers/promises costs start-up time in berth-runc). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function cgWrite(dir: string, file: string, value: string | number): void {
  const p = path.join(dir, file);
  try {
    writeFileSync(p, String(value));
  } catch (err) {
    throw errorFromCode(codeOf(err), `write ${JSON.stringify(String(value))} to ${p}: ${(err as Error).message}`, err);
  }
}

export function cgRead(dir: string, file: string): string {
  return readFileSync(path.join(dir, file), 'utf8');
}

export function cgReadOr(dir: string, file: string, fallback: string): string {
  try {
    return readFileSync(path.join(dir, file), 'utf8');
  } catch {
    return fallback;
  }
}

export function cgNumber(dir: string, file: string): number {
  const v = Number(cgReadOr(dir, file, '0').trim());
  return Number.isFinite(v) ? v : 0;
}

/** mkdir -p, returning the directories that did not exist (shallowest first). */
export function mkdirAll(dir: string): string[] {
  // The usual case (the parent exists) in one mkdir, without checking each level first.
  try {
    mkdirSync(dir);
    return [dir];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return [];
    if (code !== 'ENOENT') throw err;
  }
  const created: string[] = [];
  let d = dir;
  while (!existsSync(d)) {
    created.unshift(d);
    d = path.dirname(d);
  }
  mkdirSync(dir, { recursive: true });
  return created;
}

export function readPids(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    let text: string;
    try {
      text = readFileSync(path.join(d, 'cgroup.procs'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const l of text.split('\n')) if (l) out.push(Number(l));
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
  };
  walk(dir);
  return out;
}

/** Removes `dir` and its sub-cgroups; retries while processes are still leaving (EBUSY), up to `timeoutMs`. */
export async function removeCgroupDir(dir: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      removeTree(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) {
        throw errorFromCode(codeOf(err), `remove cgroup ${dir}: ${(err as Error).message}`, err);
      }
    }
    await sleep(delay);
  }
}

/** rmdir first (a leaf cgroup, the usual case, needs no readdir); on EBUSY remove sub-cgroups, then retry. */
function removeTree(dir: string): void {
  try {
    rmdirSync(dir);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EBUSY') throw err;
  }
  const subdirs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  if (subdirs.length === 0) rmdirSync(dir); // still busy: processes are leaving (the caller retries)
  for (const e of subdirs) removeTree(path.join(dir, e.name));
  rmdirSync(dir);
}

export function checkResources(r: LinuxResources | undefined): void {
  if (!r) return;
  const m = r.memory;
  if (m?.limit !== undefined && m.limit > 0 && m.limit < 6 * 1024 * 1024) {
    throw new InvalidArgumentError(`memory limit ${m.limit} is below the minimum of 6MB`);
  }
  if (m?.swap !== undefined && m.swap > 0 && m.limit !== undefined && m.limit > 0 && m.swap < m.limit) {
    throw new InvalidArgumentError(`memory+swap limit ${m.swap} must not be lower than the memory limit ${m.limit}`);
  }
  if (r.pids && typeof r.pids.limit !== 'number') throw new InvalidArgumentError('linux.resources.pids.limit must be a number');
}
