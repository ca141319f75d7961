// Docker's multiplexed stdio framing (attach, logs and exec without a TTY): each frame is an 8-byte header
// `[stream, 0, 0, 0, uint32 BE length]` followed by `length` bytes; stream 0 = stdin, 1 = stdout, 2 = stderr,
// 3 = a systemerr (the daemon reports an error in-band).
import type { Writable } from 'node:stream';

export const StdStream = { stdin: 0, stdout: 1, stderr: 2, systemerr: 3 } as const;
export type StdStreamId = (typeof StdStream)[keyof typeof StdStream];

/** Content types the daemon answers attach/logs/exec with (multiplexed since API 1.42; `raw-stream` for TTYs). */
export const MEDIA_TYPE_RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MEDIA_TYPE_MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/** One frame: the header and payload as a single buffer (for servers writing a multiplexed stream). */
export function muxFrame(stream: StdStreamId, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Incremental decoder: feed it chunks as they arrive, get complete frames back. */
export class Demuxer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Array<{ stream: StdStreamId; payload: Buffer }> {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Array<{ stream: StdStreamId; payload: Buffer }> = [];
    while (this.pending.length >= 8) {
      const len = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + len) break;
      out.push({ stream: (this.pending[0]! & 3) as StdStreamId, payload: this.pending.subarray(8, 8 + len) });
      this.pending = this.pending.subarray(8 + len);
    }
    return out;
  }

  /** Bytes of an incomplete frame left over at the end of the stream. */
  get remainder(): number {
    return this.pending.length;
  }
}

/** JSON.parse's reviver, with the source-text context Node 24 passes as a third argument. */
export type JsonReviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

/** What the stream helpers read: a Readable, any async iterable, or an array of chunks. */
export type ByteSource = AsyncIterable<Buffer | string> | Iterable<Buffer | string>;

/** Thrown when the daemon sends an in-band error frame (stream 3). */
export class StreamSystemError extends Error {}

/**
 * Copies a multiplexed stream to `stdout`/`stderr`, honouring their back-pressure. Resolves when the source
 * ends; rejects on a system-error frame.
 */
export async function demuxStream(source: ByteSource, stdout: Writable, stderr: Writable): Promise<void> {
  const d = new Demuxer();
  for await (const chunk of source) {
    for (const f of d.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) {
      if (f.stream === StdStream.systemerr) throw new StreamSystemError(f.payload.toString('utf8').trim());
      const target = f.stream === StdStream.stderr ? stderr : stdout;
      if (!target.write(f.payload)) await new Promise((r) => target.once('drain', r));
    }
  }
}

/**
 * Splits a byte stream into JSON values, one per line (pull/push/build progress, events, stats). `reviver`
 * is JSON.parse's (its third argument carries the value's source text, for numbers beyond 2^53 such as
 * events' `timeNano`).
 */
export async function* jsonLines<T = unknown>(source: ByteSource, reviver?: JsonReviver): AsyncGenerator<T> {
  let rest = '';
  const decoder = new TextDecoder();
  for await (const chunk of source) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line) yield JSON.parse(line, reviver) as T;
    }
  }
  rest += decoder.decode();
  // Some daemons (and older API versions) send concatenated JSON without newlines.
  for (const piece of splitConcatenatedJson(rest.trim())) yield JSON.parse(piece, reviver) as T;
}

function splitConcatenatedJson(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i;
    } else if ((c === '}' || c === ']') && --depth === 0) {
      out.push(text.slice(start, i + 1));
    }
  }
  if (out.length === 0 && text) out.push(text);
  return out;
}
