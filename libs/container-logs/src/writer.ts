// Writes Docker's json-file log: entries appended to `<path>`, rotated as Docker's LogFile does — before an
// entry is written, a file that has reached max-size is renamed to `<path>.1` (older ones shift up to
// `<path>.<max-file - 1>`, the oldest is dropped) and a new `<path>` is started; with max-file 1 the file is
// truncated instead. Writes are synchronous appends to the page cache (no fsync): one write(2) per batch of
// entries, so the writer's throughput is what bounds a container writing at full speed.
import { closeSync, fstatSync, ftruncateSync, openSync, renameSync, writeSync } from 'node:fs';
import { isAscii } from 'node:buffer';
import { encodeEntry, jsonString, type LogStream } from './entry.ts';
import type { JsonFileOptions } from './options.ts';
import { formatRfc3339Nano, nowNs } from './time.ts';

/** Docker's copier cuts lines longer than this into partial entries. */
export const MAX_LINE = 16 * 1024;

/** ASCII that JSON (with Go's HTML-safe extras) escapes; newlines are entry boundaries, never inside one. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be found
const ESCAPE_TEST = /[\x00-\x09\x0b-\x1f"\\<>&]/;
// eslint-disable-next-line no-control-regex -- as above
const ESCAPE_ALL = /[\x00-\x09\x0b-\x1f"\\<>&]/g;
const ESCAPES: Record<string, string> = Object.fromEntries(
  [...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)), '"', '\\', '<', '>', '&'].map((c) => [c, jsonString(c).slice(1, -1)]),
);

export class JsonFileWriter {
  readonly path: string;
  readonly maxSize: number;
  readonly maxFile: number;
  private fd: number;
  private size: number;
  private closed = false;
  /** Entries written since open. */
  entries = 0;
  /** Bytes written since open (all files). */
  bytes = 0;

  private constructor(path: string, fd: number, opts: JsonFileOptions) {
    this.path = path;
    this.fd = fd;
    this.size = fstatSync(fd).size;
    this.maxSize = opts.maxSize;
    this.maxFile = opts.maxFile;
  }

  /** Opens (creating, mode 0640) `path` for appending. */
  static open(path: string, opts: Partial<JsonFileOptions> = {}): JsonFileWriter {
    const fd = openSync(path, 'a', 0o640);
    return new JsonFileWriter(path, fd, { maxSize: opts.maxSize ?? 0, maxFile: Math.max(1, opts.maxFile ?? 1) });
  }

  /** Writes one entry. `log` is the line as the process wrote it (with its newline unless partial). */
  write(stream: LogStream, log: string, timeNs: bigint = nowNs()): void {
    this.writeEncoded([encodeEntry(stream, log, formatRfc3339Nano(timeNs))]);
  }

  /**
   * Writes entries already encoded by encodeEntry, in as few write(2) calls as rotation allows. `ascii`: every
   * entry is pure ASCII (its length is its size in bytes).
   */
  writeEncoded(lines: string[], ascii = false): void {
    if (this.closed || lines.length === 0) return;
    let from = 0;
    let batchBytes = 0;
    for (let i = 0; i < lines.length; i++) {
      if (this.maxSize > 0 && this.size + batchBytes >= this.maxSize) {
        this.flush(lines, from, i, ascii);
        from = i;
        batchBytes = 0;
        this.rotate();
      }
      batchBytes += ascii ? lines[i]!.length : Buffer.byteLength(lines[i]!);
    }
    this.flush(lines, from, lines.length, ascii);
    this.entries += lines.length;
  }

  private flush(lines: string[], from: number, to: number, ascii: boolean): void {
    if (to <= from) return;
    const text = from === 0 && to === lines.length ? lines.join('') : lines.slice(from, to).join('');
    const buf = Buffer.from(text, ascii ? 'latin1' : 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
    this.size += buf.length;
    this.bytes += buf.length;
  }

  private rotate(): void {
    if (this.maxFile <= 1) {
      ftruncateSync(this.fd, 0);
      this.size = 0;
      return;
    }
    for (let i = this.maxFile - 1; i > 1; i--) renameIfExists(`${this.path}.${i - 1}`, `${this.path}.${i}`);
    renameSync(this.path, `${this.path}.1`);
    const fd = openSync(this.path, 'a', 0o640);
    closeSync(this.fd);
    this.fd = fd;
    this.size = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Cuts one output stream's bytes into entries as Docker's copier does: each line with its newline is one
 * entry; a line reaching MAX_LINE bytes without a newline is cut into partial entries; flush() writes a pending
 * partial line now (end of stream, or an idle prompt that should show up in `logs -f`).
 */
export class LineSplitter {
  readonly stream: LogStream;
  private readonly writer: JsonFileWriter;
  private pending: Buffer | undefined;

  constructor(stream: LogStream, writer: JsonFileWriter) {
    this.stream = stream;
    this.writer = writer;
  }

  /** True while part of a line waits for its newline. */
  get hasPartial(): boolean {
    return this.pending !== undefined;
  }

  write(chunk: Buffer, timeNs: bigint = nowNs()): void {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    const time = formatRfc3339Nano(timeNs);
    const lastNl = data.lastIndexOf(10);
    // Fast path for the common case, complete lines of ASCII: escaped and cut into entries with native string
    // operations on the whole chunk instead of line by line.
    if (lastNl >= 0 && data.length - lastNl - 1 < MAX_LINE && isAscii(data.subarray(0, lastNl))) {
      const text = data.toString('latin1', 0, lastNl);
      const raw = text.split('\n');
      if (raw.every((p) => p.length < MAX_LINE)) {
        const parts = ESCAPE_TEST.test(text) ? text.replace(ESCAPE_ALL, (c) => ESCAPES[c]!).split('\n') : raw;
        const head = '{"log":"';
        const tail = `\\n","stream":"${this.stream}","time":"${time}"}\n`;
        this.writer.writeEncoded(parts.map((p) => head + p + tail), true);
        if (lastNl + 1 < data.length) this.pending = Buffer.from(data.subarray(lastNl + 1));
        return;
      }
    }
    const lines: string[] = [];
    let start = 0;
    while (start < data.length) {
      const nl = data.indexOf(10, start);
      const end = nl < 0 ? -1 : nl + 1;
      if (end > 0 && end - start <= MAX_LINE) {
        lines.push(encodeEntry(this.stream, data.toString('utf8', start, end), time));
        start = end;
      } else if (data.length - start >= MAX_LINE) {
        lines.push(encodeEntry(this.stream, data.toString('utf8', start, start + MAX_LINE), time));
        start += MAX_LINE;
      } else {
        this.pending = Buffer.from(data.subarray(start));
        break;
      }
    }
    this.writer.writeEncoded(lines);
  }

  flush(timeNs: bigint = nowNs()): void {
    if (!this.pending) return;
    const rest = this.pending;
    this.pending = undefined;
    this.writer.writeEncoded([encodeEntry(this.stream, rest.toString('utf8'), formatRfc3339Nano(timeNs))]);
  }
}
