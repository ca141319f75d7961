// Signals as runc accepts them: numbers ("9"), names with or without SIG ("KILL", "SIGKILL"), any case.
import { InvalidArgumentError } from '@berth/errdefs';
import { constants } from 'node:os';

export function parseSignal(signal: string | number): number {
  if (typeof signal === 'number') {
    if (Number.isInteger(signal) && signal > 0 && signal < 65) return signal;
    throw new InvalidArgumentError(`invalid signal ${signal}`);
  }
  const s = signal.trim();
  if (/^\d+$/.test(s)) return parseSignal(Number(s));
  const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) return name.startsWith('SIGRTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
  const n = (constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new InvalidArgumentError(`unknown signal ${JSON.stringify(signal)}`);
  return n;
}
