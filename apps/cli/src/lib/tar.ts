// A small tar implementation for build contexts and `cp`: ustar headers, with PAX records for long names,
// long link targets and large sizes when writing; PAX and GNU long-name records understood when reading.
import type { Readable } from 'node:stream';

export interface TarEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  linkname?: string;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function header(e: TarEntry, name: string, linkname: string, size: number, typeflag: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(e.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(e.uid, 8), 108, 'ascii');
  h.write(octal(e.gid, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(e.mtime.getTime() / 1000), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(typeflag, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (Buffer.byteLength(`${len}${body}`) !== len) len = Buffer.byteLength(`${len}${body}`);
  return `${len}${body}`;
}

function pad(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** The header block(s) for an entry (a PAX header first when the name or link does not fit ustar). */
export function encodeHeader(e: TarEntry): Buffer {
  const typeflag = { file: '0', link: '1', symlink: '2', directory: '5', other: '0' }[e.type];
  let name = e.type === 'directory' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  const link = e.linkname ?? '';
  const pax: string[] = [];
  if (Buffer.byteLength(name) > 100) pax.push(paxRecord('path', name));
  if (Buffer.byteLength(link) > 100) pax.push(paxRecord('linkpath', link));
  if (e.size > 0o77777777777) pax.push(paxRecord('size', String(e.size)));
  const blocks: Buffer[] = [];
  if (pax.length) {
    const data = Buffer.from(pax.join(''));
    blocks.push(header({ ...e, mode: 0o644 }, 'PaxHeader', '', data.length, 'x'), data, pad(data.length));
    name = Buffer.from(name).subarray(0, 100).toString('utf8');
  }
  blocks.push(header(e, name, Buffer.from(link).subarray(0, 100).toString('utf8'), e.type === 'file' ? e.size : 0, typeflag));
  return Buffer.concat(blocks);
}

/** Incremental writer: `entry(header, body?)` then `end()`; produces an async iterable of chunks. */
export class TarWriter {
  private readonly queue: Array<Buffer | (() => AsyncIterable<Buffer>)> = [];

  entry(e: TarEntry, body?: Buffer | (() => AsyncIterable<Buffer>)): void {
    this.queue.push(encodeHeader(e));
    if (e.type === 'file' && e.size > 0 && body !== undefined) {
      this.queue.push(body);
      this.queue.push(pad(e.size));
    }
  }

  async* stream(): AsyncGenerator<Buffer> {
    for (const item of this.queue) {
      if (Buffer.isBuffer(item)) {
        if (item.length) yield item;
      } else {
        for await (const c of item()) yield c;
      }
    }
    yield Buffer.alloc(BLOCK * 2);
  }
}

/** Reads entries from a tar stream; `onEntry` receives each header and its body (consume or ignore it). */
export async function readTar(source: Readable | AsyncIterable<Buffer> | Iterable<Buffer>,
  onEntry: (e: TarEntry, body: Buffer) => Promise<void> | void): Promise<void> {
  let buf = Buffer.alloc(0);
  let paxPath: string | undefined;
  let paxLink: string | undefined;
  let paxSize: number | undefined;
  let gnuName: string | undefined;
  let gnuLink: string | undefined;
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(typeof c === 'string' ? Buffer.from(c) : c as Buffer);
  buf = Buffer.concat(chunks);
  let off = 0;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const str = (s: number, n: number) => {
      const v = h.subarray(s, s + n);
      const z = v.indexOf(0);
      return (z < 0 ? v : v.subarray(0, z)).toString('utf8');
    };
    const num = (s: number, n: number) => {
      const v = h.subarray(s, s + n);
      if (v[0]! & 0x80) {
        let x = 0;
        for (let i = 1; i < v.length; i++) x = x * 256 + v[i]!;
        return x;
      }
      return parseInt(str(s, n).trim() || '0', 8);
    };
    const typeflag = String.fromCharCode(h[156] || 48);
    let size = num(124, 12);
    if (paxSize !== undefined && typeflag !== 'x' && typeflag !== 'g') size = paxSize;
    const prefix = str(345, 155);
    let name = str(0, 100);
    if (prefix && str(257, 6).startsWith('ustar')) name = `${prefix}/${name}`;
    const body = buf.subarray(off + BLOCK, off + BLOCK + size);
    off += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === 'x') {
      for (const rec of parsePax(body)) {
        if (rec[0] === 'path') paxPath = rec[1];
        if (rec[0] === 'linkpath') paxLink = rec[1];
        if (rec[0] === 'size') paxSize = Number(rec[1]);
      }
      continue;
    }
    if (typeflag === 'g') continue;
    if (typeflag === 'L') {
      gnuName = body.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (typeflag === 'K') {
      gnuLink = body.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    const type: TarEntry['type'] = typeflag === '5' ? 'directory' : typeflag === '2' ? 'symlink' : typeflag === '1' ? 'link'
      : typeflag === '0' || typeflag === '7' ? 'file' : 'other';
    const entry: TarEntry = {
      name: paxPath ?? gnuName ?? name, type, mode: num(100, 8), uid: num(108, 8), gid: num(116, 8), size,
      mtime: new Date(num(136, 12) * 1000), linkname: paxLink ?? gnuLink ?? str(157, 100),
    };
    paxPath = paxLink = gnuName = gnuLink = undefined;
    paxSize = undefined;
    await onEntry(entry, body);
  }
}

function parsePax(body: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(32, i);
    if (sp < 0) break;
    const len = Number(body.toString('ascii', i, sp));
    if (!len) break;
    const rec = body.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    out.push([rec.slice(0, eq), rec.slice(eq + 1)]);
    i += len;
  }
  return out;
}
