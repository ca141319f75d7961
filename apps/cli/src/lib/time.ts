import { CliError } from '../framework/errors.ts';
import { parseDuration } from '../format/units.ts';

/**
 * docker's timetypes.GetTimestamp: a relative duration ("42m" → now - 42m), a unix timestamp ("1700000000"
 * or "1700000000.123"), or an RFC 3339 date / date-time; returned as "seconds[.nanoseconds]" for the API.
 */
export function parseTimestamp(value: string, now = Date.now()): string {
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  try {
    const d = parseDuration(value);
    return secs(now - d);
  } catch {
    // not a duration
  }
  let s = value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += 'T00:00:00';
  if (/T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(s) || /T\d{2}:\d{2}$/.test(s)) s += 'Z';
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new CliError(`invalid value for "since": failed to parse value as time or duration: "${value}"`, 1);
  return secs(t);
}

function secs(ms: number): string {
  const s = Math.floor(ms / 1000);
  const ns = Math.round((ms - s * 1000) * 1e6);
  return `${s}.${String(ns).padStart(9, '0')}`;
}
