// Timestamps as Docker's json-file log writes and reads them: nanoseconds since the epoch (bigint), printed
// in Go's RFC3339Nano (trailing zeros trimmed, UTC) in the file and in the fixed 9-digit form that
// `docker logs --timestamps` prints.
import { InvalidArgumentError } from '@berth/errdefs';

const MS = 1_000_000n;
const SECOND = 1_000_000_000n;

let anchorWall = BigInt(Date.now()) * MS;
let anchorHr = process.hrtime.bigint();
let last = 0n;

/** The wall clock in nanoseconds: sub-millisecond resolution, never decreasing between calls. */
export function nowNs(): bigint {
  const hr = process.hrtime.bigint();
  let t = anchorWall + (hr - anchorHr);
  const wall = BigInt(Date.now()) * MS;
  // Follow a stepped wall clock (NTP) instead of drifting away from it with the monotonic one.
  if (t - wall > 2n * MS || wall - t > 2n * MS) {
    anchorWall = wall;
    anchorHr = hr;
    t = wall;
  }
  if (t <= last) t = last + 1n;
  last = t;
  return t;
}

function split(ns: bigint): { base: string; frac: string } {
  let secs = ns / SECOND;
  let rem = ns % SECOND;
  if (rem < 0n) {
    rem += SECOND;
    secs -= 1n;
  }
  const iso = new Date(Number(secs) * 1000).toISOString();
  return { base: iso.slice(0, 19), frac: rem.toString().padStart(9, '0') };
}

/** Go's time.RFC3339Nano in UTC: `2024-05-01T10:00:00.1234Z` (trailing zeros trimmed, no dot when zero). */
export function formatRfc3339Nano(ns: bigint): string {
  const { base, frac } = split(ns);
  const trimmed = frac.replace(/0+$/, '');
  return trimmed ? `${base}.${trimmed}Z` : `${base}Z`;
}

/** Docker's RFC3339NanoFixed (`--timestamps`): always nine digits. */
export function formatRfc3339NanoFixed(ns: bigint): string {
  const { base, frac } = split(ns);
  return `${base}.${frac}Z`;
}

const RFC3339 = /^(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d)(?:\.(\d{1,9})\d*)?([Zz]|[+-]\d\d:\d\d)$/;

/** Parses RFC 3339 (any number of fraction digits, any offset) to nanoseconds since the epoch. */
export function parseRfc3339(text: string): bigint {
  const m = RFC3339.exec(text);
  const ms = m ? Date.parse(`${m[1]!.replace(/[t ]/, 'T')}${m[3]!.toUpperCase()}`) : NaN;
  if (!m || Number.isNaN(ms)) throw new InvalidArgumentError(`invalid RFC 3339 time ${JSON.stringify(text)}`);
  return BigInt(ms) * MS + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/**
 * A time bound as the Engine API passes `since`/`until`: Unix seconds with an optional fraction
 * (`1700000000`, `1700000000.123456789`); RFC 3339 is accepted too. Returns nanoseconds.
 */
export function parseTimestamp(text: string): bigint {
  const m = /^(-?\d+)(?:\.(\d{1,9})\d*)?$/.exec(text.trim());
  if (m) return BigInt(m[1]!) * SECOND + BigInt((m[2] ?? '').padEnd(9, '0'));
  return parseRfc3339(text.trim());
}
