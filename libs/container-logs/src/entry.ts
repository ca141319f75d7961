// One json-file log entry: `{"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}` on
// its own line. `log` holds the bytes of one line including its newline; a line longer than the writer's
// limit, or cut short by the end of the stream, is stored without the newline (a partial entry).
import { InvalidArgumentError } from '@berth/errdefs';
import { parseRfc3339 } from './time.ts';

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  stream: LogStream;
  /** The bytes the process wrote (UTF-8; invalid sequences were replaced by U+FFFD when written, as Docker does). */
  log: Buffer;
  /** As stored: RFC3339Nano. */
  time: string;
  /** `time` in nanoseconds since the epoch. */
  timeNs: bigint;
}

// Go's encoding/json escapes these for HTML safety; Docker's files have them escaped, so berth's do too.
const HTML_UNSAFE = /[<>&\u2028\u2029]/;
const HTML_UNSAFE_ALL = /[<>&\u2028\u2029]/g;
const ESCAPES: Record<string, string> = {
  '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029',
};

/** A JSON string literal of `text`, escaped as Go's encoding/json does. */
export function jsonString(text: string): string {
  const s = JSON.stringify(text);
  return HTML_UNSAFE.test(s) ? s.replace(HTML_UNSAFE_ALL, (c) => ESCAPES[c]!) : s;
}

/** The line (with its trailing newline) that stores one entry. `time` is RFC3339Nano. */
export function encodeEntry(stream: LogStream, log: string, time: string): string {
  return `{"log":${jsonString(log)},"stream":"${stream}","time":"${time}"}\n`;
}

/** Parses one stored line (without its newline). */
export function decodeEntry(line: string): LogEntry {
  let raw: { log?: unknown; stream?: unknown; time?: unknown };
  try {
    raw = JSON.parse(line) as typeof raw;
  } catch (err) {
    throw new InvalidArgumentError(`invalid json-file log line ${JSON.stringify(line.slice(0, 80))}: ${(err as Error).message}`);
  }
  if (typeof raw.log !== 'string' || typeof raw.time !== 'string') {
    throw new InvalidArgumentError(`invalid json-file log line ${JSON.stringify(line.slice(0, 80))}: missing log or time`);
  }
  return {
    stream: raw.stream === 'stderr' ? 'stderr' : 'stdout',
    log: Buffer.from(raw.log, 'utf8'),
    time: raw.time,
    timeNs: parseRfc3339(raw.time),
  };
}
