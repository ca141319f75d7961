// The files a shim keeps in its state dir, written atomically (temp, fsync, rename). A caller that finds the
// shim gone can still learn how its task ended from `exit.json`.
//
//   <stateDir>/task.json          the task: id, namespace, bundle, stdio, pid, rootfs mounts
//   <stateDir>/exit.json          the task's exit (written before the exit is announced)
//   <stateDir>/execs/<execId>.json  an exec's record and, once it has exited, its exit
//   <stateDir>/shim.log           the shim's own log (JSON lines)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ExitStatus } from './messages.ts';

export const TASK_FILE = 'task.json';
export const EXIT_FILE = 'exit.json';
export const EXECS_DIR = 'execs';
export const SHIM_LOG = 'shim.log';

export interface RecordedExit {
  pid: number;
  exit: ExitStatus;
}

/** The task's recorded exit, or undefined if it has not exited (or the state dir is gone). */
export function readRecordedExit(stateDir: string): RecordedExit | undefined {
  try {
    return JSON.parse(readFileSync(path.join(stateDir, EXIT_FILE), 'utf8')) as RecordedExit;
  } catch {
    return undefined;
  }
}
