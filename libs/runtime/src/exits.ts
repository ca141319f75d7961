// Exit statuses of the processes this runtime starts (container inits, exec'd processes), delivered once,
// whoever reaps them: a pidfd watched on the event loop (waitExit), or the subreaper's SIGCHLD sweep (Reaper).
//
// libuv reaps only the children it spawned (it waitpid()s each pid it knows), so reaping our own clones is
// safe. A subreaper (the shim) must also reap orphans, but must not steal libuv's children: the Reaper peeks
// with waitid(WNOWAIT) and leaves any pid it is told is foreign (child_process children, including the hooks
// this runtime runs, which it registers itself).
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { native } from './native.ts';

export interface ExitStatus {
  /** the exit code, or null when a signal ended the process (or the status is unknown) */
  exitCode: number | null;
  /** the signal that ended the process, or null */
  signal: NodeJS.Signals | null;
  /** shell style: the exit code, 128 + the signal number, or 255 when unknown (the process was not our child) */
  status: number;
}

interface Child {
  status?: ExitStatus;
  waiters: ((s: ExitStatus) => void)[];
  watcher?: { close(): void };
  pidfd?: number;
}

const children = new Map<number, Child>();
const foreign = new Set<number>();
const transient = new Set<number>();

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

export function toExitStatus(s: { exitCode: number | null; signal: number | null } | null): ExitStatus {
  if (!s) return { exitCode: null, signal: null, status: 255 };
  if (s.signal) return { exitCode: null, signal: SIGNAL_NAMES.get(s.signal) ?? null, status: 128 + s.signal };
  return { exitCode: s.exitCode, signal: null, status: s.exitCode ?? 255 };
}

/** Records that `pid` is a process we started, so its status is kept for waitExit even if a sweep reaps it first. */
export function trackChild(pid: number): void {
  if (!children.has(pid)) children.set(pid, { waiters: [] });
}

/** Marks a pid as someone else's child (libuv's): the Reaper must leave it alone. */
export function markForeign(pid: number, isForeign: boolean): void {
  if (isForeign) foreign.add(pid);
  else foreign.delete(pid);
}

/** A short-lived child we reap ourselves (berth-nsexec); a sweep that gets there first reaps it silently. */
export function markTransient(pid: number, on: boolean): void {
  if (on) transient.add(pid);
  else transient.delete(pid);
}

function deliver(pid: number, status: ExitStatus): void {
  const c = children.get(pid);
  if (!c || c.status) return;
  c.status = status;
  c.watcher?.close();
  if (c.pidfd !== undefined) closeSync(c.pidfd);
  c.watcher = undefined;
  c.pidfd = undefined;
  if (c.waiters.length > 0) {
    const ws = c.waiters;
    c.waiters = [];
    children.delete(pid);
    for (const w of ws) w(status);
  }
}

/**
 * Resolves when `pid` exits. For our own children (container inits and exec'd processes, which are direct
 * children of this process thanks to CLONE_PARENT) the status is real; for other processes it is unknown
 * (status 255). Uses a pidfd on the event loop: no polling, no thread.
 */
export function waitExit(pid: number): Promise<ExitStatus> {
  trackChild(pid);
  const c = children.get(pid)!;
  if (c.status) {
    children.delete(pid);
    return Promise.resolve(c.status);
  }
  const p = new Promise<ExitStatus>((resolve) => c.waiters.push(resolve));
  if (!c.watcher) {
    const n = native();
    let pidfd: number;
    try {
      pidfd = n.pidfdOpen(pid);
    } catch {
      // Already gone and reaped by someone else.
      deliver(pid, toExitStatus(null));
      return p;
    }
    c.pidfd = pidfd;
    const check = () => {
      let s;
      try {
        s = n.pidfdWait(pidfd);
      } catch (err) {
        // ECHILD: not our child (or a sweep reaped it and delivered already) — it has exited either way.
        if ((err as { code?: string }).code === 'ECHILD') deliver(pid, toExitStatus(null));
        return;
      }
      if (s) deliver(pid, toExitStatus(s));
    };
    c.watcher = new n.FdWatcher(pidfd, check);
  }
  return p;
}

/**
 * Reaps `pid` now if it is one of our tracked children and has exited, keeping its status for a later waitExit.
 * delete() calls it so that a container nobody waited for does not stay a zombie in a long-lived caller.
 */
export function collectExited(pid: number): void {
  const c = children.get(pid);
  if (!c || c.status) return;
  try {
    const s = native().waitPid(pid, true);
    if (s) deliver(pid, toExitStatus(s));
  } catch {
    // ECHILD: not ours after all (or reaped by a sweep, which delivered the status)
  }
}

/** The pid's status if it has already been collected (by a sweep), without waiting. */
export function exitedStatus(pid: number): ExitStatus | undefined {
  return children.get(pid)?.status;
}

/** Makes this process the subreaper of everything it starts (PR_SET_CHILD_SUBREAPER): orphans come back to it. */
export function setChildSubreaper(): void {
  native().setSubreaper();
}

export interface ReaperOptions {
  /** Pids this sweep must not reap (children of child_process/libuv that the caller spawned). */
  isForeign?: (pid: number) => boolean;
  /** Called for every reaped process that is neither tracked nor foreign (an orphan re-parented to us). */
  onOrphanExit?: (pid: number, status: ExitStatus) => void;
}

export interface Reaper {
  /** Sweeps now (also done on every SIGCHLD). */
  sweep(): void;
  stop(): void;
}

/**
 * Reaps exited children on SIGCHLD: tracked ones (our inits and execs) get their status delivered to waitExit;
 * orphans are reaped and reported; foreign ones (libuv's) are left for libuv, which reaps them in the same
 * loop turn, so a sweep that meets one simply tries again on the next turn.
 */
export function startReaper(opts: ReaperOptions = {}): Reaper {
  const n = native();
  let retry: NodeJS.Immediate | undefined;
  let stopped = false;
  const sweep = () => {
    retry = undefined;
    for (let i = 0; i < 10_000; i++) {
      const pid = n.peekExited();
      if (pid <= 0) return;
      if (foreign.has(pid) || opts.isForeign?.(pid)) {
        if (!stopped) retry ??= setImmediate(sweep);
        return;
      }
      let s;
      try {
        s = n.waitPid(pid, true);
      } catch {
        continue;
      }
      if (!s) continue;
      const status = toExitStatus(s);
      if (transient.has(pid)) transient.delete(pid);
      else if (children.has(pid)) deliver(pid, status);
      else opts.onOrphanExit?.(pid, status);
    }
  };
  process.on('SIGCHLD', sweep);
  sweep();
  return {
    sweep,
    stop: () => {
      stopped = true;
      process.off('SIGCHLD', sweep);
      if (retry) clearImmediate(retry);
    },
  };
}
