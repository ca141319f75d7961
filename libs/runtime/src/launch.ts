// Runs one plan: spawns berth-nsexec, then follows the sync protocol (native/src/common/protocol.h) until the
// container's init is ready (create) or the exec'd process has exec'd (EOF). On any failure the process it
// started is killed and reaped before the error is thrown, so nothing is left running.
import { closeSync } from 'node:fs';
import { initError } from './errors.ts';
import { markTransient, trackChild, waitExit } from './exits.ts';
import { native } from './native.ts';
import { encodePlan, type Plan } from './plan/plan.ts';
import { SyncType } from './plan/tags.ts';
import { SyncChannel } from './sync.ts';

export interface LaunchOptions {
  helper: string;
  stdio: [number, number, number];
  timeoutMs: number;
  /** create: called when the init stops for prestart/createRuntime hooks */
  onHooks?: (pid: number) => Promise<void>;
  /** Called once the process's pid is known, while it still sets up (work started here overlaps that setup). */
  onPid?: (pid: number) => void;
}

export interface LaunchResult {
  pid: number;
  ptyMaster?: number;
}

function reap(pid: number): void {
  try {
    native().waitPid(pid, false);
  } catch {
    // ECHILD: a subreaper sweep got there first
  }
  markTransient(pid, false);
}

/** A helper spawned ahead of its plan, for the next launch (at most one per process). */
let parked: { helper: string; pid: number; syncFd: number } | undefined;

/**
 * Spawns a helper now, waiting for its plan, so that the next launch with the same helper skips the spawn
 * (~1 ms of a create or exec here). For processes that launch again and again (the shim); it exits at once if
 * this process goes away.
 */
export function parkHelper(helper: string = native().helperPath): void {
  if (parked) return;
  const { pid, syncFd } = native().parkHelper(helper);
  markTransient(pid, true);
  parked = { helper, pid, syncFd };
}

/** Ends the parked helper, if any (EOF on its socket makes it exit) and reaps it: before this process exits. */
export function unparkHelper(): void {
  const p = parked;
  if (!p) return;
  parked = undefined;
  closeSync(p.syncFd);
  reap(p.pid);
}

/** The parked helper, given its plan and stdio; undefined when there is none (or it could not take them). */
function releaseParked(helper: string, planBytes: Buffer, stdio: [number, number, number]): { pid: number; syncFd: number } | undefined {
  const p = parked;
  if (!p || p.helper !== helper) return undefined;
  parked = undefined;
  try {
    native().releaseHelper(p.syncFd, planBytes, stdio);
    return p;
  } catch {
    // It died meanwhile: forget it, spawn one as usual.
    closeSync(p.syncFd);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
    reap(p.pid);
    return undefined;
  }
}

export async function launch(plan: Plan, opts: LaunchOptions): Promise<LaunchResult> {
  const n = native();
  const planBytes = encodePlan(plan);
  const { pid: helperPid, syncFd } = releaseParked(opts.helper, planBytes, opts.stdio)
    ?? n.spawnHelper(opts.helper, planBytes, opts.stdio);
  markTransient(helperPid, true);
  const chan = new SyncChannel(syncFd);
  let pid = 0;
  let pty: number | undefined;
  const what = plan.mode === 'create' ? 'container init' : 'exec';
  try {
    for (;;) {
      const m = await chan.next(opts.timeoutMs, `wait for the ${what}`);
      switch (m.type) {
        case SyncType.PID:
          pid = m.value;
          trackChild(pid);
          opts.onPid?.(pid);
          break;
        case SyncType.HOOKS:
          if (opts.onHooks) await opts.onHooks(pid);
          chan.send(SyncType.CONTINUE);
          break;
        case SyncType.PTY:
          if (pty !== undefined) closeSync(pty);
          pty = m.fd;
          break;
        case SyncType.READY:
          return pty === undefined ? { pid } : { pid, ptyMaster: pty };
        case SyncType.ERROR:
        case SyncType.ERROR_PLAIN:
          throw initError(m.value, m.text, m.type === SyncType.ERROR_PLAIN);
        case SyncType.EOF:
          if (plan.mode === 'exec' && pid > 0) return pty === undefined ? { pid } : { pid, ptyMaster: pty };
          throw new Error(`the ${what} exited during setup without saying why`);
        default:
          throw new Error(`unexpected message ${m.type} from the ${what}`);
      }
    }
  } catch (err) {
    if (pty !== undefined) closeSync(pty);
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await waitExit(pid);
    }
    try {
      process.kill(helperPid, 'SIGKILL'); // a helper that hung (timeout); usually it has exited already
    } catch {
      // exited
    }
    throw err;
  } finally {
    chan.close();
    // By READY (or EOF, or an error) the helper has released the child for the last time and is exiting:
    // reaping it here waits at most for its exit, never for its cgroup work.
    reap(helperPid);
  }
}
