// Facts about a pid from /proc: its start time (to tell our init from a recycled pid) and whether it lives.
import { readFileSync } from 'node:fs';

export interface ProcStat {
  state: string;
  ppid: number;
  startTime: number;
}

export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', ppid: Number(fields[1]), startTime: Number(fields[19]) };
}

/** The process exists, is the one started at `startTime`, and has not exited (a zombie has). */
export function isRunning(pid: number, startTime?: number): boolean {
  const st = procStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}
