/**
 * A push parser for tar streams: feed decompressed chunks with `push`, and it calls the handler synchronously
 * with each entry's header, its data (as views into the chunks, no copies) and its end. Meta headers (PAX
 * `x`/`g`, GNU `L`/`K`) and sparse maps (old GNU `S`, PAX 0.1 and 1.0) are folded into the entry header.
 */
import {
  BLOCK, decodeHeader, entryTypeOf, isZeroBlock, parsePax, readSparseEntries, TarFormatError,
  type RawHeader, type SparseSegment, type TarHeader,
} from './tar-header.ts';

export interface TarHandler {
  entry(h: TarHeader): void;
  data(chunk: Buffer): void;
  entryEnd(): void;
}

/** Longest meta header body (PAX records, GNU long names) accepted: bounds memory on hostile input. */
const MAX_META = 1 << 20;

type State = 'header' | 'meta' | 'gnuSparseExt' | 'sparseMap' | 'data' | 'padding' | 'end';

export class TarParser {
  private state: State = 'header';
  private block = Buffer.alloc(BLOCK);
  private blockFill = 0;
  private remaining = 0;
  private paddingLeft = 0;
  private meta: Buffer[] = [];
  private metaLen = 0;
  private metaType = '';
  private pax: Map<string, Buffer[]> | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private pending: { raw: RawHeader; header: TarHeader } | undefined;
  private sparseText = '';
  private zeroBlocks = 0;
  private readonly handler: TarHandler;

  constructor(handler: TarHandler) {
    this.handler = handler;
  }

  get ended(): boolean {
    return this.state === 'end';
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && this.state !== 'end') {
      switch (this.state) {
        case 'data': {
          const n = Math.min(this.remaining, chunk.length - off);
          this.handler.data(chunk.subarray(off, off + n));
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finishData();
          break;
        }
        case 'padding': {
          const n = Math.min(this.paddingLeft, chunk.length - off);
          off += n;
          this.paddingLeft -= n;
          if (this.paddingLeft === 0) this.state = 'header';
          break;
        }
        case 'meta': {
          const n = Math.min(this.remaining, chunk.length - off);
          this.meta.push(Buffer.from(chunk.subarray(off, off + n)));
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finishMeta();
          break;
        }
        default: {
          // header, gnuSparseExt, sparseMap: block-wise.
          const n = Math.min(BLOCK - this.blockFill, chunk.length - off);
          chunk.copy(this.block, this.blockFill, off, off + n);
          this.blockFill += n;
          off += n;
          if (this.blockFill === BLOCK) {
            this.blockFill = 0;
            this.onBlock(this.block);
          }
        }
      }
    }
  }

  /** Call at the end of the stream; throws if it ended inside an entry. */
  end(): void {
    if (this.state === 'end') return;
    if (this.state === 'header' && this.blockFill === 0 && !this.pending && this.metaLen === 0 && !this.pax && !this.longName) {
      this.state = 'end';
      return;
    }
    throw new TarFormatError('unexpected end of tar stream');
  }

  private onBlock(b: Buffer): void {
    if (this.state === 'gnuSparseExt') {
      const p = this.pending!;
      p.header.sparse!.map.push(...readSparseEntries(b, 0, 21));
      if (b[504] === 0) this.startData();
      return;
    }
    if (this.state === 'sparseMap') {
      this.sparseText += b.toString('latin1');
      this.remaining -= BLOCK;
      if (this.remaining < 0) throw new TarFormatError('sparse map larger than the entry');
      const parsed = parseSparseMapText(this.sparseText);
      if (parsed) {
        this.pending!.header.sparse!.map = parsed;
        this.sparseText = '';
        this.startData();
      } else if (this.sparseText.length > MAX_META) {
        throw new TarFormatError('sparse map too large');
      }
      return;
    }
    if (isZeroBlock(b)) {
      this.zeroBlocks++;
      if (this.zeroBlocks === 2) this.state = 'end';
      return;
    }
    if (this.zeroBlocks > 0) throw new TarFormatError('invalid tar header after a zero block');
    const raw = decodeHeader(b);
    switch (raw.typeflag) {
      case 'x':
      case 'g':
      case 'L':
      case 'K':
        if (raw.size > MAX_META) throw new TarFormatError(`tar meta header of ${raw.size} bytes is too large`);
        this.metaType = raw.typeflag;
        this.meta = [];
        this.metaLen = raw.size;
        this.remaining = raw.size;
        this.paddingLeft = (BLOCK - (raw.size % BLOCK)) % BLOCK;
        if (raw.size === 0) this.finishMeta();
        else this.state = 'meta';
        return;
    }
    this.beginEntry(raw);
  }

  private finishMeta(): void {
    const body = Buffer.concat(this.meta);
    this.meta = [];
    this.metaLen = 0;
    switch (this.metaType) {
      case 'x':
        this.pax = parsePax(body);
        break;
      case 'g':
        break; // Global headers carry nothing a layer needs (as in containerd).
      case 'L':
        this.longName = cut(body);
        break;
      case 'K':
        this.longLink = cut(body);
        break;
    }
    this.state = this.paddingLeft > 0 ? 'padding' : 'header';
  }

  private beginEntry(raw: RawHeader): void {
    const type = entryTypeOf(raw.typeflag);
    const pax = this.pax;
    const str = (k: string) => pax?.get(k)?.at(-1)?.toString('utf8');
    const num = (k: string) => {
      const v = str(k);
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new TarFormatError(`invalid PAX ${k} ${JSON.stringify(v)}`);
      return n;
    };
    let name = str('path') ?? this.longName ?? raw.name;
    if (type === undefined) {
      throw new TarFormatError(`unsupported tar entry type ${JSON.stringify(raw.typeflag)} for ${JSON.stringify(name)}`);
    }
    const xattrs: Record<string, Buffer> = {};
    if (pax) {
      for (const [k, vs] of pax) {
        if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = vs.at(-1)!;
        else if (k.startsWith('LIBARCHIVE.xattr.')) {
          xattrs[decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length))] = Buffer.from(vs.at(-1)!.toString('latin1'), 'base64');
        }
      }
    }
    const header: TarHeader = {
      name,
      type,
      mode: raw.mode,
      uid: num('uid') ?? raw.uid,
      gid: num('gid') ?? raw.gid,
      size: num('size') ?? raw.size,
      mtime: num('mtime') ?? raw.mtime,
      linkname: str('linkpath') ?? this.longLink ?? raw.linkname,
      uname: str('uname') ?? raw.uname,
      gname: str('gname') ?? raw.gname,
      devmajor: raw.devmajor,
      devminor: raw.devminor,
      xattrs,
    };
    const atime = num('atime');
    if (atime !== undefined) header.atime = atime;
    if (type === 'dir' || type === 'symlink' || type === 'char' || type === 'block' || type === 'fifo') header.size = type === 'dir' ? raw.size : 0;
    if (type === 'link' && raw.size === 0) header.size = 0;

    let sparseMode: 'none' | 'gnu' | 'map1' = 'none';
    if (raw.gnuSparse) {
      header.sparse = { realSize: raw.gnuSparse.realSize, map: raw.gnuSparse.map };
      sparseMode = raw.gnuSparse.extended ? 'gnu' : 'none';
    } else if (pax && (pax.has('GNU.sparse.major') || pax.has('GNU.sparse.map') || pax.has('GNU.sparse.offset'))) {
      const realSize = num('GNU.sparse.realsize') ?? num('GNU.sparse.size');
      if (realSize === undefined) throw new TarFormatError(`sparse entry ${JSON.stringify(name)} has no real size`);
      name = str('GNU.sparse.name') ?? name;
      header.name = name;
      if (str('GNU.sparse.major') === '1' && str('GNU.sparse.minor') === '0') {
        header.sparse = { realSize, map: [] };
        sparseMode = 'map1';
      } else if (pax.has('GNU.sparse.map')) {
        header.sparse = { realSize, map: pairs(str('GNU.sparse.map')!.split(',')) };
      } else {
        const offs = pax.get('GNU.sparse.offset') ?? [];
        const lens = pax.get('GNU.sparse.numbytes') ?? [];
        header.sparse = { realSize, map: offs.map((o, i) => ({ offset: Number(o.toString()), length: Number(lens[i]?.toString()) })) };
      }
    }
    this.pax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    this.pending = { raw, header };
    this.remaining = header.size;
    this.paddingLeft = (BLOCK - (header.size % BLOCK)) % BLOCK;
    if (sparseMode === 'gnu') {
      this.state = 'gnuSparseExt';
    } else if (sparseMode === 'map1') {
      this.state = 'sparseMap';
    } else {
      this.startData();
    }
  }

  private startData(): void {
    const p = this.pending!;
    if (p.header.sparse) {
      const stored = p.header.sparse.map.reduce((s, e) => s + e.length, 0);
      if (stored !== this.remaining) throw new TarFormatError(`sparse map of ${JSON.stringify(p.header.name)} does not match its data size`);
      p.header.size = this.remaining;
    }
    this.handler.entry(p.header);
    if (this.remaining === 0) this.finishData();
    else this.state = 'data';
  }

  private finishData(): void {
    this.pending = undefined;
    this.handler.entryEnd();
    this.state = this.paddingLeft > 0 ? 'padding' : 'header';
  }
}

function cut(b: Buffer): string {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
}

function pairs(nums: string[]): SparseSegment[] {
  if (nums.length % 2 !== 0) throw new TarFormatError('malformed sparse map');
  const out: SparseSegment[] = [];
  for (let i = 0; i < nums.length; i += 2) {
    const offset = Number(nums[i]);
    const length = Number(nums[i + 1]);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new TarFormatError('malformed sparse map');
    out.push({ offset, length });
  }
  return out;
}

/** PAX 1.0 sparse map at the start of the data: `count\n` then `offset\nlength\n` pairs; undefined until complete. */
function parseSparseMapText(text: string): SparseSegment[] | undefined {
  const lines = text.split('\n');
  if (lines.length < 2) return undefined;
  const count = Number(lines[0]);
  if (!Number.isSafeInteger(count) || count < 0) throw new TarFormatError('malformed sparse map');
  if (lines.length - 1 < count * 2 + 1) return undefined;
  return pairs(lines.slice(1, 1 + count * 2));
}
