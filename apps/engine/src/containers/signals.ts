/** Signal names and numbers as Docker accepts them (`KILL`, `SIGKILL`, `9`). */
import { constants } from 'node:os';
import { InvalidArgumentError } from '@berth/errdefs';

const SIGNALS = constants.signals as Record<string, number>;

/** Parses a signal; Docker's message when it is not one. */
export function parseSignal(s: string | number | undefined | null, dflt: number): number {
  if (s === undefined || s === null || s === '') return dflt;
  if (typeof s === 'number' || /^\d+$/.test(s)) {
    const n = Number(s);
    if (n <= 0 || n > 64) throw new InvalidArgumentError(`Invalid signal: ${s}`);
    return n;
  }
  const up = s.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) return name.startsWith('SIGRTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
  const n = SIGNALS[name];
  if (n === undefined) throw new InvalidArgumentError(`Invalid signal: ${s}`);
  return n;
}

export function signalName(n: number): string {
  return Object.entries(SIGNALS).find(([, v]) => v === n)?.[0] ?? String(n);
}
