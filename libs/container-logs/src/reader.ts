// Reads Docker's json-file log as `docker logs` does: every file of the rotation set oldest first
// (`<path>.<n>` … `<path>.1`, `<path>`), optionally only the last `tail` entries, filtered by `since`/`until`,
// and with `follow`, on through new entries, rotations (the file renamed away under an open descriptor) and
// truncations (max-file 1) until the writer is done, `until` passes or the reader is aborted.
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { decodeEntry, type LogEntry } from './entry.ts';
import { nowNs } from './time.ts';

export interface ReadLogsOptions {
  /** Only the last `tail` entries (of all files together); undefined or negative: all. */
  tail?: number;
  /** Skip entries older than this (ns since the epoch; inclusive). */
  since?: bigint;
  /** Stop at the first entry newer than this (ns since the epoch; inclusive). */
  until?: bigint;
  /** Keep reading new entries as they are written. */
  follow?: boolean;
  /** With follow: once this settles (the writer is done, e.g. the container exited), read what is left and stop. */
  done?: Promise<unknown>;
  /** Stops reading at once. */
  signal?: AbortSignal;
  /** With follow: how often to look for changes if no file event arrived (default 250 ms). */
  pollMs?: number;
  /**
   * Called once where reading starts is fixed (`tail` applied), before anything is read: an entry written after
   * this is read (with follow). An attach waits for it before it tells its client it is attached.
   */
  onStart?: () => void;
}

const CHUNK = 64 * 1024;

/** The files of a rotation set that exist now, oldest first: `<path>.<n>` … `<path>.1`, `<path>`. */
export async function logFiles(file: string): Promise<string[]> {
  const rotated: string[] = [];
  for (let i = 1; ; i++) {
    const p = `${file}.${i}`;
    if (!(await exists(p))) break;
    rotated.push(p);
  }
  const out = rotated.reverse();
  if (await exists(file)) out.push(file);
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

interface Cursor {
  fh: FileHandle;
  ino: number;
  offset: number;
  partial: Buffer | undefined;
}

async function openCursor(file: string, offset = 0): Promise<Cursor | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const st = await fh.stat();
  return { fh, ino: st.ino, offset, partial: undefined };
}

/** Reads complete lines from the cursor's position to the end of its file (a torn last line is kept for later). */
async function readLines(c: Cursor, onLine: (line: string) => boolean): Promise<boolean> {
  const buf = Buffer.allocUnsafe(CHUNK);
  for (;;) {
    const { bytesRead } = await c.fh.read(buf, 0, CHUNK, c.offset);
    if (bytesRead === 0) return true;
    c.offset += bytesRead;
    let data = buf.subarray(0, bytesRead);
    if (c.partial) {
      data = Buffer.concat([c.partial, data]);
      c.partial = undefined;
    }
    let start = 0;
    for (;;) {
      const nl = data.indexOf(10, start);
      if (nl < 0) break;
      if (!onLine(data.toString('utf8', start, nl))) return false;
      start = nl + 1;
    }
    if (start < data.length) c.partial = Buffer.from(data.subarray(start));
  }
}

/** Where the last `need` complete lines of a file start, and how many there are (≤ need). */
async function tailStart(fh: FileHandle, size: number, need: number): Promise<{ offset: number; lines: number }> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = size;
  let newlines = 0;
  while (pos > 0) {
    const from = Math.max(0, pos - CHUNK);
    const { bytesRead } = await fh.read(buf, 0, pos - from, from);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (buf[i] !== 10) continue;
      newlines++;
      // The first newline from the end closes the last line; the (need+1)-th is just before the first wanted one.
      if (newlines === need + 1) return { offset: from + i + 1, lines: need };
    }
    pos = from;
  }
  return { offset: 0, lines: newlines };
}

/** The entries of a json-file log; see ReadLogsOptions. */
export async function* readLogs(file: string, opts: ReadLogsOptions = {}): AsyncGenerator<LogEntry> {
  const queue: LogEntry[] = [];
  let stop = false;
  const accept = (line: string): boolean => {
    if (line.length === 0) return true;
    let e: LogEntry;
    try {
      e = decodeEntry(line);
    } catch {
      return true; // a corrupt line (e.g. cut by a crash) is skipped, as Docker does
    }
    if (opts.since !== undefined && e.timeNs < opts.since) return true;
    if (opts.until !== undefined && e.timeNs > opts.until) {
      stop = true;
      return false;
    }
    queue.push(e);
    return true;
  };

  // Open every file first so rotation while we read cannot pull one away.
  const cursors: Cursor[] = [];
  for (const f of await logFiles(file)) {
    const c = await openCursor(f);
    if (c) cursors.push(c);
  }
  try {
    if (opts.tail !== undefined && opts.tail >= 0) {
      let need = opts.tail;
      let first = cursors.length;
      for (let i = cursors.length - 1; i >= 0 && need > 0; i--) {
        const c = cursors[i]!;
        const { offset, lines } = await tailStart(c.fh, (await c.fh.stat()).size, need);
        c.offset = offset;
        need -= lines;
        first = i;
      }
      if (opts.tail === 0 && cursors.length > 0) {
        const last = cursors[cursors.length - 1]!;
        last.offset = (await last.fh.stat()).size;
        first = cursors.length - 1;
      }
      for (const c of cursors.splice(0, first)) await c.fh.close();
    }
    opts.onStart?.();
    // Everything but the newest file is complete.
    while (cursors.length > 1) {
      const c = cursors.shift()!;
      await readLines(c, accept);
      await c.fh.close();
      yield* queue.splice(0);
      if (stop || opts.signal?.aborted) return;
    }
    let current = cursors.shift() ?? (opts.follow ? await waitForFile(file, opts) : undefined);
    if (!current) return;
    cursors.push(current);
    await readLines(current, accept);
    yield* queue.splice(0);
    if (stop || !opts.follow) return;

    const changes = new Changes(file, opts);
    try {
      for (;;) {
        const finishing = await changes.next();
        if (opts.signal?.aborted) return;
        // Rotated away (a new file at `file`) or truncated in place.
        const now = await stat(file).catch(() => undefined);
        if (now && now.ino === current.ino && now.size < current.offset) {
          current.offset = 0;
          current.partial = undefined;
        }
        await readLines(current, accept);
        yield* queue.splice(0);
        if (stop) return;
        if (now && now.ino !== current.ino) {
          for (const f of await newerFiles(file, current.ino)) {
            const c = await openCursor(f);
            if (!c) continue;
            await current.fh.close();
            cursors[0] = current = c;
            await readLines(current, accept);
            yield* queue.splice(0);
            if (stop) return;
          }
        }
        if (finishing) return;
        if (opts.until !== undefined && nowNs() > opts.until) return;
      }
    } finally {
      changes.close();
    }
  } finally {
    for (const c of cursors) await c.fh.close().catch(() => {});
  }
}

/** Files of the set newer than the one with inode `ino` (all of them if it was rotated out), oldest first. */
async function newerFiles(file: string, ino: number): Promise<string[]> {
  const files = await logFiles(file);
  const inodes = await Promise.all(files.map(async (f) => (await stat(f).catch(() => undefined))?.ino));
  const at = inodes.indexOf(ino);
  return at < 0 ? files : files.slice(at + 1);
}

async function waitForFile(file: string, opts: ReadLogsOptions): Promise<Cursor | undefined> {
  const changes = new Changes(file, opts);
  try {
    for (;;) {
      const finishing = await changes.next();
      if (opts.signal?.aborted) return undefined;
      const c = await openCursor(file);
      if (c || finishing) return c;
    }
  } finally {
    changes.close();
  }
}

/** Wakes a follower on file events in the log's directory, on a poll tick, on abort, or when `done` settles. */
class Changes {
  private watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;
  private dirty = false;
  private finishing = false;
  private readonly pollMs: number;
  private readonly onAbort = () => this.notify();

  constructor(file: string, opts: ReadLogsOptions) {
    this.pollMs = opts.pollMs ?? 250;
    const base = path.basename(file);
    try {
      this.watcher = watch(path.dirname(file), { persistent: false }, (_ev, name) => {
        if (!name || name.startsWith(base)) this.notify();
      });
      this.watcher.on('error', () => {});
    } catch {
      this.watcher = undefined; // polling only
    }
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.signal = opts.signal;
    void opts.done?.finally(() => {
      this.finishing = true;
      this.notify();
    });
  }

  private readonly signal: AbortSignal | undefined;

  private notify(): void {
    this.dirty = true;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Resolves at the next change; true when `done` has settled (read what is left, then stop). */
  async next(): Promise<boolean> {
    if (!this.dirty && !this.finishing && !this.signal?.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.wake = undefined;
          resolve();
        }, this.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.dirty = false;
    return this.finishing;
  }

  close(): void {
    this.watcher?.close();
    this.signal?.removeEventListener('abort', this.onAbort);
    this.wake?.();
  }
}
