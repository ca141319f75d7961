import type { Filters } from '@berth/docker-api';
import { CliError } from '../framework/errors.ts';

/** `--filter key=value` (repeatable) → docker's filter map. */
export function parseFilters(values: string[]): Filters | undefined {
  if (values.length === 0) return undefined;
  const out: Filters = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0) throw new CliError(`bad format of filter (expected name=value)`, 125, true);
    const k = v.slice(0, i).trim().toLowerCase();
    (out[k] ??= []).push(v.slice(i + 1).trim());
  }
  return out;
}
