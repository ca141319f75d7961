// What `docker logs` prints for an entry: the bytes as written, with `--timestamps` prefixed by the entry's
// time in the fixed nine-digit form and a space.
import type { LogEntry } from './entry.ts';
import { formatRfc3339NanoFixed } from './time.ts';

export function formatLogLine(e: LogEntry, opts: { timestamps?: boolean } = {}): Buffer {
  if (!opts.timestamps) return e.log;
  return Buffer.concat([Buffer.from(`${formatRfc3339NanoFixed(e.timeNs)} `), e.log]);
}
