/**
 * Image archives are tars of a few big files (blobs) and small JSON documents. Reading turns
 * @berth/layer-store's push parser into pulled events (so ingesting an entry can await its writes and
 * backpressure reaches the input); writing yields ustar/PAX blocks from @berth/layer-store's encoder.
 * Archives may be gzip- or zstd-compressed, as `docker load` accepts them.
 */
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { InvalidArgumentError } from '@berth/errdefs';
import { END_OF_ARCHIVE, TarFormatError, TarParser, encodeHeader, paddingFor, type TarHeader } from '@berth/layer-store';
import { detectCompression } from '@berth/oci';

export type TarEvent =
  | { type: 'entry'; header: TarHeader }
  | { type: 'data'; chunk: Buffer }
  | { type: 'entryEnd' };

/** Decompresses gzip/zstd input (sniffed); passes a plain tar through. bzip2/xz are refused by name. */
export async function* decompressed(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  const pending: Buffer[] = [];
  while (head.length < 6) {
    const r = await it.next();
    if (r.done) break;
    pending.push(r.value);
    head = Buffer.concat([head, r.value]);
  }
  const rest = async function* () {
    yield* pending;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  };
  if (head.subarray(0, 3).toString('latin1') === 'BZh') throw new InvalidArgumentError('archive is bzip2-compressed: not supported, decompress it first');
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw new InvalidArgumentError('archive is xz-compressed: not supported, decompress it first');
  }
  const c = detectCompression(head);
  if (c === 'none') {
    yield* rest();
    return;
  }
  const z = c === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
  yield* Readable.from(rest()).pipe(z) as AsyncIterable<Buffer>;
}

/** Events of a tar stream, in order. Data chunks are views valid until the next event is asked for. */
export async function* readTar(input: AsyncIterable<Buffer>): AsyncGenerator<TarEvent> {
  const queue: TarEvent[] = [];
  const parser = new TarParser({
    entry: (header) => queue.push({ type: 'entry', header }),
    data: (chunk) => queue.push({ type: 'data', chunk }),
    entryEnd: () => queue.push({ type: 'entryEnd' }),
  });
  try {
    for await (const chunk of decompressed(input)) {
      parser.push(chunk);
      while (queue.length) yield queue.shift()!;
      if (parser.ended) break;
    }
    parser.end();
    while (queue.length) yield queue.shift()!;
  } catch (err) {
    if (err instanceof TarFormatError) throw new InvalidArgumentError(`invalid tar archive: ${err.message}`, { cause: err });
    throw err;
  }
}

export interface TarWriteEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink';
  mode?: number;
  /** Seconds since the epoch (default 0, for reproducible archives). */
  mtime?: number;
  linkname?: string;
  /** Bytes, or a stream of exactly `size` bytes. */
  body?: Buffer | { size: number; open: () => Promise<AsyncIterable<Buffer>> };
}

export function header(e: TarWriteEntry): TarHeader {
  const type = e.type ?? 'file';
  const size = e.body === undefined ? 0 : Buffer.isBuffer(e.body) ? e.body.length : e.body.size;
  return {
    name: type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name,
    type, mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644), uid: 0, gid: 0, size, mtime: e.mtime ?? 0,
    linkname: e.linkname ?? '', uname: '', gname: '', devmajor: 0, devminor: 0, xattrs: {},
  };
}

/** A tar of the entries, produced lazily (each body opened when its turn comes). */
export function writeTar(entries: AsyncIterable<TarWriteEntry> | Iterable<TarWriteEntry>): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    for await (const e of entries) {
      const h = header(e);
      yield encodeHeader(h);
      if (e.body === undefined) continue;
      if (Buffer.isBuffer(e.body)) {
        yield e.body;
      } else {
        let n = 0;
        for await (const c of await e.body.open()) {
          n += c.length;
          if (n > h.size) throw new InvalidArgumentError(`archive entry ${e.name}: more than ${h.size} bytes`);
          yield c;
        }
        if (n !== h.size) throw new InvalidArgumentError(`archive entry ${e.name}: ${n} bytes, expected ${h.size}`);
      }
      const pad = paddingFor(h.size);
      if (pad.length) yield pad;
    }
    yield END_OF_ARCHIVE;
  }
  return Readable.from(gen(), { objectMode: false, highWaterMark: 1 << 20 });
}
