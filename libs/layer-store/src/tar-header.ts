/**
 * Tar headers: the ustar/GNU/PAX fields a container layer uses, decoded from and encoded to 512-byte blocks.
 * Reading accepts POSIX ustar (with prefix), GNU (long names, base-256 numbers, old sparse) and PAX records;
 * writing produces ustar headers with a PAX extended header when a field does not fit (Docker's format).
 */

export const BLOCK = 512;

export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface SparseSegment {
  offset: number;
  length: number;
}

export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow the header in the archive (for sparse files: the stored segments). */
  size: number;
  /** Seconds since the epoch, with sub-second precision when PAX gave it. */
  mtime: number;
  atime?: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, Buffer>;
  /** For sparse files: the apparent size and where the stored segments go. */
  sparse?: { realSize: number; map: SparseSegment[] };
}

/** A raw header block as read: the typeflag decides how it is used (x, g, L, K are meta headers). */
export interface RawHeader {
  typeflag: string;
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  gnu: boolean;
  /** Old GNU sparse ('S'): entries in the header, whether extension blocks follow, and the real size. */
  gnuSparse?: { map: SparseSegment[]; extended: boolean; realSize: number };
}

export class TarFormatError extends Error {}

function cstring(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/** A numeric field: octal ASCII (spaces/NULs allowed), or base-256 when the high bit of the first byte is set. */
export function parseNumeric(b: Buffer, off: number, len: number): number {
  const first = b[off]!;
  if (first & 0x80) {
    // Base-256, two's complement; we only accept non-negative values that fit a double exactly.
    if (first === 0xff) throw new TarFormatError('negative base-256 number in tar header');
    let v = first & 0x7f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + b[off + i]!;
      if (v > Number.MAX_SAFE_INTEGER) throw new TarFormatError('base-256 number too large in tar header');
    }
    return v;
  }
  let i = off;
  const end = off + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) throw new TarFormatError(`invalid octal number in tar header: ${JSON.stringify(b.toString('latin1', off, end))}`);
    v = v * 8 + (c - 0x30);
    digits++;
  }
  return digits === 0 ? 0 : v;
}

function checksumOk(b: Buffer): boolean {
  const stored = parseNumeric(b, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

export function isZeroBlock(b: Buffer, off = 0): boolean {
  for (let i = off; i < off + BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** Decodes one header block (which must not be all zeros). */
export function decodeHeader(b: Buffer): RawHeader {
  if (!checksumOk(b)) throw new TarFormatError('invalid tar header checksum');
  const magic = b.toString('latin1', 257, 263);
  const version = b.toString('latin1', 263, 265);
  const gnu = magic === 'ustar ' && version === ' \0';
  const posix = magic === 'ustar\0';
  let name = cstring(b, 0, 100);
  if (posix) {
    const prefix = cstring(b, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  const typeflag = b[156] === 0 ? '0' : String.fromCharCode(b[156]!);
  const h: RawHeader = {
    typeflag,
    name,
    mode: parseNumeric(b, 100, 8),
    uid: parseNumeric(b, 108, 8),
    gid: parseNumeric(b, 116, 8),
    size: parseNumeric(b, 124, 12),
    mtime: parseNumeric(b, 136, 12),
    linkname: cstring(b, 157, 100),
    uname: posix || gnu ? cstring(b, 265, 32) : '',
    gname: posix || gnu ? cstring(b, 297, 32) : '',
    devmajor: posix || gnu ? parseNumeric(b, 329, 8) : 0,
    devminor: posix || gnu ? parseNumeric(b, 337, 8) : 0,
    gnu,
  };
  if (typeflag === 'S' && gnu) {
    h.gnuSparse = { map: readSparseEntries(b, 386, 4), extended: b[482] !== 0, realSize: parseNumeric(b, 483, 12) };
  }
  return h;
}

/** Reads `count` (offset, numbytes) pairs of 24 bytes each; stops at the first empty one. */
export function readSparseEntries(b: Buffer, off: number, count: number): SparseSegment[] {
  const out: SparseSegment[] = [];
  for (let i = 0; i < count; i++) {
    const p = off + i * 24;
    if (b[p] === 0) break;
    out.push({ offset: parseNumeric(b, p, 12), length: parseNumeric(b, p + 12, 12) });
  }
  return out;
}

/** Parses PAX records (`<len> <key>=<value>\n`). Values stay raw bytes (xattr values are binary). */
export function parsePax(buf: Buffer): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  let i = 0;
  while (i < buf.length) {
    if (buf[i] === 0) break;
    const sp = buf.indexOf(0x20, i);
    if (sp < 0) throw new TarFormatError('malformed PAX record');
    const len = Number(buf.toString('latin1', i, sp));
    if (!Number.isInteger(len) || len <= sp - i || i + len > buf.length || buf[i + len - 1] !== 0x0a) {
      throw new TarFormatError('malformed PAX record');
    }
    const rec = buf.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new TarFormatError('malformed PAX record');
    const key = rec.toString('utf8', 0, eq);
    const list = out.get(key);
    if (list) list.push(rec.subarray(eq + 1));
    else out.set(key, [rec.subarray(eq + 1)]);
    i += len;
  }
  return out;
}

const typeOf: Record<string, EntryType> = {
  0: 'file', 7: 'file', 1: 'link', 2: 'symlink', 3: 'char', 4: 'block', 5: 'dir', 6: 'fifo', S: 'file',
};

export function entryTypeOf(typeflag: string): EntryType | undefined {
  return typeOf[typeflag];
}

// ---- writing ----

const typeflagOf: Record<EntryType, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

function writeString(b: Buffer, s: string, off: number, len: number): boolean {
  const n = Buffer.byteLength(s);
  if (n > len) return false;
  b.write(s, off, len, 'utf8');
  return true;
}

function writeOctal(b: Buffer, v: number, off: number, len: number): boolean {
  const s = Math.floor(v).toString(8);
  if (v < 0 || s.length > len - 1) return false;
  b.write(s.padStart(len - 1, '0'), off, len - 1, 'latin1');
  b[off + len - 1] = 0;
  return true;
}

function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.isBuffer(value) ? value : Buffer.from(value), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function ustarBlock(h: { name: string; typeflag: string; mode: number; uid: number; gid: number; size: number; mtime: number;
  linkname: string; uname: string; gname: string; devmajor: number; devminor: number; }, pax: Buffer[] | undefined): Buffer {
  const b = Buffer.alloc(BLOCK);
  let name = h.name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    // Try ustar's prefix/name split at a slash before falling back to a PAX path record.
    const cut = name.lastIndexOf('/', name.length - 2);
    if (cut > 0 && Buffer.byteLength(name.slice(0, cut)) <= 155 && Buffer.byteLength(name.slice(cut + 1)) <= 100) {
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    } else {
      pax?.push(paxRecord('path', h.name));
      name = h.name.slice(0, 99);
    }
  }
  writeString(b, name, 0, 100);
  writeOctal(b, h.mode & 0o7777, 100, 8);
  if (!writeOctal(b, h.uid, 108, 8)) {
    pax?.push(paxRecord('uid', String(h.uid)));
    writeOctal(b, 0, 108, 8);
  }
  if (!writeOctal(b, h.gid, 116, 8)) {
    pax?.push(paxRecord('gid', String(h.gid)));
    writeOctal(b, 0, 116, 8);
  }
  if (!writeOctal(b, h.size, 124, 12)) {
    pax?.push(paxRecord('size', String(h.size)));
    writeOctal(b, 0, 124, 12);
  }
  writeOctal(b, Math.max(0, h.mtime), 136, 12);
  b[156] = h.typeflag.charCodeAt(0);
  if (!writeString(b, h.linkname, 157, 100)) {
    pax?.push(paxRecord('linkpath', h.linkname));
  }
  b.write('ustar\x0000', 257, 8, 'latin1');
  if (!writeString(b, h.uname, 265, 32)) pax?.push(paxRecord('uname', h.uname));
  if (!writeString(b, h.gname, 297, 32)) pax?.push(paxRecord('gname', h.gname));
  writeOctal(b, h.devmajor, 329, 8);
  writeOctal(b, h.devminor, 337, 8);
  writeString(b, prefix, 345, 155);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

function padding(n: number): number {
  return (BLOCK - (n % BLOCK)) % BLOCK;
}

/**
 * Encodes a header (with a PAX extended header first when names, ids, sizes or xattrs need it). Times are
 * whole seconds, and no atime/ctime, so the same tree always gives the same bytes.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const pax: Buffer[] = [];
  const main = ustarBlock({
    name: h.name, typeflag: typeflagOf[h.type], mode: h.mode, uid: h.uid, gid: h.gid, size: h.type === 'file' ? h.size : 0,
    mtime: Math.floor(h.mtime), linkname: h.linkname, uname: h.uname, gname: h.gname, devmajor: h.devmajor, devminor: h.devminor,
  }, pax);
  for (const k of Object.keys(h.xattrs).sort()) pax.push(paxRecord(`SCHILY.xattr.${k}`, h.xattrs[k]!));
  if (pax.length === 0) return main;
  const body = Buffer.concat(pax);
  const paxName = `PaxHeaders.0/${h.name.replace(/\/$/, '').split('/').pop()}`.slice(0, 99);
  const xh = ustarBlock({
    name: paxName, typeflag: 'x', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0,
    linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0,
  }, undefined);
  return Buffer.concat([xh, body, Buffer.alloc(padding(body.length)), main]);
}

/** The zero padding after `size` bytes of entry data. */
export function paddingFor(size: number): Buffer {
  return Buffer.alloc(padding(size));
}

/** End of archive: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);
