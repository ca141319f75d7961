// The shim's own log: JSON lines on stderr (which launchShim points at <state>/shim.log) in pino's format.
// Not pino itself: loading pino costs every shim about a megabyte of private memory (docs/shim.md), and the
// shim logs a handful of lines in its life.
import { writeSync } from 'node:fs';

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type Level = keyof typeof LEVELS;

type LogFn = (objOrMsg?: Record<string, unknown> | string, msg?: string) => void;

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

function serialize(v: unknown): unknown {
  if (v instanceof Error) return { type: v.name, message: v.message, stack: v.stack, ...(v as unknown as Record<string, unknown>) };
  return v;
}

export function createLogger(bindings: Record<string, unknown>, fd = 2): Logger {
  const min = LEVELS[(process.env.BERTH_SHIM_LOG_LEVEL as Level | undefined) ?? 'info'] ?? LEVELS.info;
  const base = { pid: process.pid, ...bindings };
  const make = (level: Level): LogFn => (objOrMsg, msg) => {
    if (LEVELS[level] < min) return;
    const fields = typeof objOrMsg === 'object' ? objOrMsg : {};
    const text = typeof objOrMsg === 'string' ? objOrMsg : msg;
    const entry: Record<string, unknown> = { level: LEVELS[level], time: Date.now(), ...base };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) entry[k] = serialize(v);
    if (text) entry.msg = text;
    try {
      writeSync(fd, `${JSON.stringify(entry)}\n`);
    } catch {
      // the log is best effort: a full disk must not take the container's shim down
    }
  };
  return {
    debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error'), fatal: make('fatal'),
    child: (more) => createLogger({ ...bindings, ...more }, fd),
  };
}
