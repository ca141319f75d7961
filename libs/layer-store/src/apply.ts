/**
 * Applying a layer (a tar, plain, gzip or zstd) onto a directory, the way containerd's and Docker's appliers
 * do, computing its diffID (sha256 of the uncompressed tar) on the way.
 *
 * Two whiteout modes:
 * - `remove`: the target is a full tree (a native snapshot, a plain rootfs); `.wh.name` deletes `name`,
 *   `.wh..wh..opq` deletes what lower layers left in the directory.
 * - `overlay`: the target is an overlayfs upper dir; whiteouts become char 0/0 nodes and opaque directories
 *   get `trusted.overlay.opaque=y`. `lowerDirs` (top first) let parents that exist only below be copied up
 *   with their metadata, symlinked parents be followed, and hard links to lower files be copied up.
 *
 * Safety: every parent path is resolved component by component inside the target (symlinks followed as if
 * the target were `/`); entries with absolute names, names or link targets that climb out with `..`, and
 * symlinked parents that lead out are refused. Limits on entries, bytes and compression ratio stop bombs.
 * Extraction is synchronous per chunk (one syscall per operation, file data written straight from the
 * decompressor's buffers) while decompression runs on libuv's threads.
 */
import { createHash } from 'node:crypto';
import {
  closeSync, constants as C, copyFileSync, existsSync, fchmodSync, fchownSync, ftruncateSync, futimesSync, lchownSync,
  linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync,
  unlinkSync, utimesSync, chmodSync, type Stats, writeSync,
} from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { FailedPreconditionError, InvalidArgumentError, ResourceExhaustedError, wrap } from '@berth/errdefs';
import { detectCompression, type Compression, type Digest } from '@berth/oci';
import { getXattr, isWhiteoutStat, listXattrs, makeWhiteout, mknod, setXattr } from './fs-ops.ts';
import { TarFormatError, type TarHeader } from './tar-header.ts';
import { TarParser, type TarHandler } from './tar-reader.ts';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

export interface ApplyOptions {
  /** `remove` (default) for a full tree; `overlay` for an overlayfs upper dir. */
  whiteouts?: 'remove' | 'overlay';
  /** overlay mode: the lower dirs under the target, top first. */
  lowerDirs?: string[];
  /** overlay mode: a char 0/0 node on the target's filesystem to hard-link whiteouts to (see whiteoutTemplate). */
  whiteoutTemplate?: string;
  /** Compression of the stream; `auto` (default) sniffs it. */
  compression?: Compression | 'auto';
  /** Most entries accepted (default 1,000,000). */
  maxEntries?: number;
  /** Most uncompressed bytes, and most apparent bytes of files (sparse sizes count) (default 64 GiB). */
  maxBytes?: number;
  /** Largest uncompressed/compressed ratio once past 256 MiB uncompressed (default 1000; deflate tops at 1032). */
  maxRatio?: number;
  /** Fail (after extraction) unless the uncompressed stream has this digest. */
  expectedDiffID?: Digest;
  /** Skip chown (for a non-root caller); default: chown when running as root. */
  noChown?: boolean;
  signal?: AbortSignal;
  /** Called after each chunk with what has been read so far. */
  onProgress?: (p: { compressedBytes: number; bytes: number; entries: number }) => void;
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar stream. */
  diffID: Digest;
  /** Uncompressed bytes. */
  size: number;
  compressedSize: number;
  entries: number;
}

const DEFAULT_MAX_ENTRIES = 1_000_000;
const DEFAULT_MAX_BYTES = 64 * 2 ** 30;
const DEFAULT_MAX_RATIO = 1000;
const RATIO_FLOOR = 256 * 2 ** 20;
const CHUNK = 256 * 1024;

class UnsafeEntryError extends InvalidArgumentError {}

function lstatOrUndefined(p: string): Stats | undefined {
  return lstatSync(p, { throwIfNoEntry: false });
}

function isExists(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'EEXIST';
}

/** Normalizes an entry name or link target relative to the root; refuses absolute paths and `..` escapes. */
function cleanRelative(name: string, what: string): string {
  if (name.startsWith('/')) throw new UnsafeEntryError(`${what} ${JSON.stringify(name)}: absolute path`);
  if (name.includes('\0')) throw new UnsafeEntryError(`${what} ${JSON.stringify(name)}: NUL in path`);
  const n = path.posix.normalize(name).replace(/\/+$/, '');
  if (n === '..' || n.startsWith('../')) throw new UnsafeEntryError(`${what} ${JSON.stringify(name)}: path escapes the target`);
  return n === '.' || n === '' ? '' : n;
}

function join(a: string, b: string): string {
  return a ? `${a}/${b}` : b;
}

function dirnameRel(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

function basenameRel(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

interface OpenFile {
  fd: number;
  header: TarHeader;
  abs: string;
  /** Sparse files: index into the map and bytes written of that segment. */
  seg: number;
  segDone: number;
}

/** The TarHandler that writes entries into the target. */
class LayerApplier implements TarHandler {
  entries = 0;
  private apparentBytes = 0;
  private readonly overlay: boolean;
  private readonly lowers: string[];
  private readonly chown: boolean;
  /** Unresolved relative dir → resolved relative dir, for dirs known to exist as real dirs. */
  private readonly dirs = new Map<string, string>();
  /** remove mode: resolved paths this layer created (kept by an opaque whiteout). */
  private readonly written = new Set<string>();
  private readonly dirTimes: [string, number, number][] = [];
  private file: OpenFile | undefined;
  private skipping = false;
  private readonly root: string;
  private readonly opts: ApplyOptions;

  constructor(root: string, opts: ApplyOptions) {
    this.root = root;
    this.opts = opts;
    this.overlay = opts.whiteouts === 'overlay';
    this.lowers = opts.lowerDirs ?? [];
    this.chown = !(opts.noChown ?? process.getuid?.() !== 0);
  }

  private abs(rel: string): string {
    return rel ? `${this.root}/${rel}` : this.root;
  }

  entry(h: TarHeader): void {
    this.skipping = false;
    if (++this.entries > (this.opts.maxEntries ?? DEFAULT_MAX_ENTRIES)) {
      throw new ResourceExhaustedError(`layer has more than ${this.opts.maxEntries ?? DEFAULT_MAX_ENTRIES} entries`);
    }
    this.apparentBytes += h.sparse ? h.sparse.realSize : h.type === 'file' ? h.size : 0;
    if (this.apparentBytes > (this.opts.maxBytes ?? DEFAULT_MAX_BYTES)) {
      throw new ResourceExhaustedError(`layer files exceed ${this.opts.maxBytes ?? DEFAULT_MAX_BYTES} bytes (entry ${JSON.stringify(h.name)})`);
    }
    const rel = cleanRelative(h.name, 'entry');
    const base = basenameRel(rel);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.skipping = true;
      if (h.type !== 'file' && h.type !== 'link') throw new UnsafeEntryError(`entry ${JSON.stringify(h.name)}: whiteout is not a file`);
      const dir = dirnameRel(rel);
      if (base === WHITEOUT_OPAQUE) this.opaque(dir);
      else if (!base.startsWith(WHITEOUT_META_PREFIX)) {
        const victim = base.slice(WHITEOUT_PREFIX.length);
        if (victim === '' || victim === '.' || victim === '..') throw new UnsafeEntryError(`entry ${JSON.stringify(h.name)}: invalid whiteout`);
        this.whiteout(dir, victim);
      }
      return;
    }
    if (rel === '') {
      if (h.type !== 'dir') throw new UnsafeEntryError(`entry ${JSON.stringify(h.name)}: the root must be a directory`);
      this.setMeta(this.root, h, false);
      this.dirTimes.push([this.root, h.atime ?? h.mtime, h.mtime]);
      return;
    }
    const parent = this.resolveDir(dirnameRel(rel), true, 0)!;
    const real = join(parent, base);
    const abs = this.abs(real);
    switch (h.type) {
      case 'dir': {
        let makeOpaque = false;
        try {
          mkdirSync(abs, { mode: 0o700 });
        } catch (err) {
          if (!isExists(err)) throw err;
          const st = lstatSync(abs);
          if (!st.isDirectory()) {
            makeOpaque = this.remove(abs, st);
            mkdirSync(abs, { mode: 0o700 });
          }
        }
        if (makeOpaque) setXattr(abs, OVERLAY_OPAQUE_XATTR, 'y');
        this.setMeta(abs, h, false);
        this.dirTimes.push([abs, h.atime ?? h.mtime, h.mtime]);
        this.dirs.set(rel, real);
        break;
      }
      case 'file': {
        const fd = this.create(abs, () => openSync(abs, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600));
        this.file = { fd, header: h, abs, seg: 0, segDone: 0 };
        if (h.sparse) ftruncateSync(fd, h.sparse.realSize);
        break;
      }
      case 'link':
        this.hardlink(h, abs);
        break;
      case 'symlink':
        this.create(abs, () => symlinkSync(h.linkname, abs));
        this.setMeta(abs, h, true);
        lutimesSync(abs, h.atime ?? h.mtime, h.mtime);
        break;
      case 'char':
      case 'block':
      case 'fifo':
        this.removeIfExists(abs);
        mknod(abs, h.type, h.devmajor, h.devminor);
        this.setMeta(abs, h, false);
        utimesSync(abs, h.atime ?? h.mtime, h.mtime);
        break;
    }
    if (!this.overlay) this.written.add(real);
  }

  data(chunk: Buffer): void {
    const f = this.file;
    if (!f) return;
    const sparse = f.header.sparse;
    if (!sparse) {
      let off = 0;
      while (off < chunk.length) off += writeSync(f.fd, chunk, off, chunk.length - off);
      return;
    }
    let off = 0;
    while (off < chunk.length) {
      const seg = sparse.map[f.seg];
      if (!seg) throw new TarFormatError('sparse data beyond its map');
      const n = Math.min(seg.length - f.segDone, chunk.length - off);
      if (seg.offset + f.segDone + n > sparse.realSize) throw new UnsafeEntryError(`entry ${JSON.stringify(f.header.name)}: sparse segment beyond its size`);
      let w = 0;
      while (w < n) w += writeSync(f.fd, chunk, off + w, n - w, seg.offset + f.segDone + w);
      off += n;
      f.segDone += n;
      if (f.segDone === seg.length) {
        f.seg++;
        f.segDone = 0;
      }
    }
  }

  entryEnd(): void {
    const f = this.file;
    if (!f) return;
    this.file = undefined;
    try {
      const h = f.header;
      if (this.chown) fchownSync(f.fd, h.uid, h.gid);
      fchmodSync(f.fd, h.mode & 0o7777);
      this.setXattrs(f.abs, h, false);
      futimesSync(f.fd, h.atime ?? h.mtime, h.mtime);
    } finally {
      closeSync(f.fd);
    }
  }

  /** Sets directory times (deferred: creating children changes them). */
  finish(): void {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [p, at, mt] = this.dirTimes[i]!;
      utimesSync(p, at, mt);
    }
  }

  /** Releases what an interrupted apply holds. */
  abort(): void {
    if (this.file) {
      try {
        closeSync(this.file.fd);
      } catch {
        // already closed
      }
      this.file = undefined;
    }
  }

  private setMeta(abs: string, h: TarHeader, symlink: boolean): void {
    if (this.chown) lchownSync(abs, h.uid, h.gid);
    if (!symlink) chmodSync(abs, h.mode & 0o7777);
    this.setXattrs(abs, h, symlink);
  }

  private setXattrs(abs: string, h: TarHeader, symlink: boolean): void {
    for (const [k, v] of Object.entries(h.xattrs)) {
      // Overlay's own attributes could redirect lookups inside the snapshot chain: never taken from a layer.
      if (k.startsWith('trusted.overlay.')) continue;
      try {
        setXattr(abs, k, v);
      } catch (err) {
        if (!symlink) throw err;
      }
    }
  }

  /** Removes what is at `abs`; returns true if it was an overlay whiteout (a dir replacing it must be opaque). */
  private remove(abs: string, st: Stats): boolean {
    if (st.isDirectory()) {
      rmSync(abs, { recursive: true, force: true });
      this.dirs.clear();
      return false;
    }
    unlinkSync(abs);
    return this.overlay && isWhiteoutStat(st);
  }

  /** Runs an exclusive create; if something is in the way, removes it and tries once more. */
  private create<T>(abs: string, make: () => T): T {
    try {
      return make();
    } catch (err) {
      if (!isExists(err)) throw err;
      this.removeIfExists(abs);
      return make();
    }
  }

  private removeIfExists(abs: string): void {
    const st = lstatOrUndefined(abs);
    if (st) this.remove(abs, st);
  }

  /**
   * Resolves a relative directory to its real relative path inside the root, following symlinks as if the root
   * were `/`, creating missing directories when `create` (copying a lower layer's metadata in overlay mode).
   * Returns undefined for a missing directory when not creating.
   */
  private resolveDir(rel: string, create: boolean, hops: number): string | undefined {
    if (rel === '') return '';
    const cached = this.dirs.get(rel);
    if (cached !== undefined) return cached;
    if (hops > 40) throw new UnsafeEntryError(`path ${JSON.stringify(rel)}: too many levels of symbolic links`);
    const parent = this.resolveDir(dirnameRel(rel), create, hops);
    if (parent === undefined) return undefined;
    const real = join(parent, basenameRel(rel));
    const abs = this.abs(real);
    const st = lstatOrUndefined(abs);
    let result: string | undefined;
    if (st?.isDirectory()) {
      result = real;
    } else if (st?.isSymbolicLink()) {
      result = this.followLink(parent, readlinkSync(abs), rel, create, hops);
    } else if (st && !(this.overlay && isWhiteoutStat(st))) {
      throw new UnsafeEntryError(`path ${JSON.stringify(rel)}: ${JSON.stringify(real)} is not a directory`);
    } else {
      // Missing (or whited out in this upper): look below in overlay mode.
      const lower = this.overlay && !st ? this.lookupLower(real) : undefined;
      if (lower?.st.isSymbolicLink()) {
        result = this.followLink(parent, readlinkSync(path.join(lower.dir, real)), rel, create, hops);
      } else if (lower && !lower.st.isDirectory()) {
        throw new UnsafeEntryError(`path ${JSON.stringify(rel)}: ${JSON.stringify(real)} is not a directory`);
      } else {
        if (!create) return undefined;
        if (st) unlinkSync(abs);
        mkdirSync(abs, { mode: lower ? lower.st.mode & 0o7777 : 0o755 });
        if (lower) this.copyUpMeta(path.join(lower.dir, real), abs, lower.st);
        else chmodSync(abs, 0o755);
        if (st) setXattr(abs, OVERLAY_OPAQUE_XATTR, 'y');
        result = real;
      }
    }
    if (result !== undefined) this.dirs.set(rel, result);
    return result;
  }

  private followLink(parent: string, target: string, rel: string, create: boolean, hops: number): string | undefined {
    const start = target.startsWith('/') ? [] : parent ? parent.split('/') : [];
    for (const c of target.split('/')) {
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (start.length === 0) {
          throw new UnsafeEntryError(`path ${JSON.stringify(rel)}: symlink to ${JSON.stringify(target)} leads out of the target`);
        }
        start.pop();
      } else {
        start.push(c);
      }
    }
    return this.resolveDir(start.join('/'), create, hops + 1);
  }

  /** overlay mode: the topmost lower entry at `real`, honouring whiteouts and opaque dirs above it. */
  private lookupLower(real: string): { dir: string; st: Stats } | undefined {
    const layers = [this.root, ...this.lowers];
    for (let i = 0; i < layers.length; i++) {
      const L = layers[i]!;
      if (i > 0) {
        const st = lstatOrUndefined(path.join(L, real));
        if (st) return isWhiteoutStat(st) ? undefined : { dir: L, st };
      }
      // Does this layer hide everything below at `real`? (an ancestor that is opaque, whited out or not a dir)
      let a = real;
      while (a) {
        const st = lstatOrUndefined(path.join(L, a));
        if (st && (!st.isDirectory() || getXattr(path.join(L, a), OVERLAY_OPAQUE_XATTR)?.toString() === 'y')) {
          if (a !== real || !st.isDirectory()) return undefined;
        }
        a = dirnameRel(a);
      }
    }
    return undefined;
  }

  private copyUpMeta(from: string, to: string, st: Stats): void {
    if (this.chown) lchownSync(to, st.uid, st.gid);
    chmodSync(to, st.mode & 0o7777);
    for (const k of listXattrs(from)) {
      if (k.startsWith('trusted.overlay.')) continue;
      const v = getXattr(from, k);
      if (v) setXattr(to, k, v);
    }
    utimesSync(to, st.atime, st.mtime);
  }

  private whiteout(dir: string, victim: string): void {
    if (!this.overlay) {
      const parent = this.resolveDir(dir, false, 0);
      if (parent === undefined) return;
      const abs = this.abs(join(parent, victim));
      const st = lstatOrUndefined(abs);
      if (st) this.remove(abs, st);
      return;
    }
    const parent = this.resolveDir(dir, true, 0)!;
    const abs = this.abs(join(parent, victim));
    this.removeIfExists(abs);
    makeWhiteout(abs, this.opts.whiteoutTemplate);
  }

  private opaque(dir: string): void {
    const real = this.resolveDir(dir, true, 0)!;
    const abs = this.abs(real);
    if (this.overlay) {
      setXattr(abs, OVERLAY_OPAQUE_XATTR, 'y');
      return;
    }
    for (const name of readdirSync(abs)) {
      const child = join(real, name);
      if (!this.written.has(child)) {
        rmSync(this.abs(child), { recursive: true, force: true });
        this.dirs.clear();
      }
    }
  }

  private hardlink(h: TarHeader, abs: string): void {
    const linkRel = cleanRelative(h.linkname, `hard link ${JSON.stringify(h.name)} to`);
    if (linkRel === '') throw new UnsafeEntryError(`hard link ${JSON.stringify(h.name)}: target is the root`);
    const parent = this.resolveDir(dirnameRel(linkRel), false, 0);
    const targetReal = parent === undefined ? undefined : join(parent, basenameRel(linkRel));
    let st = targetReal === undefined ? undefined : lstatOrUndefined(this.abs(targetReal));
    if (!st && this.overlay && targetReal !== undefined) {
      const lower = this.lookupLower(targetReal);
      if (lower && !lower.st.isDirectory()) {
        // The target lives below: copy it up so the link has an inode in this layer.
        this.resolveDir(dirnameRel(linkRel), true, 0);
        this.copyUp(path.join(lower.dir, targetReal), this.abs(targetReal), lower.st);
        st = lstatSync(this.abs(targetReal));
      }
    }
    if (!st || targetReal === undefined) throw new UnsafeEntryError(`hard link ${JSON.stringify(h.name)}: target ${JSON.stringify(h.linkname)} does not exist`);
    if (st.isDirectory()) throw new UnsafeEntryError(`hard link ${JSON.stringify(h.name)}: target ${JSON.stringify(h.linkname)} is a directory`);
    const target = this.abs(targetReal);
    if (target === abs) return;
    this.removeIfExists(abs);
    linkSync(target, abs);
  }

  private copyUp(from: string, to: string, st: Stats): void {
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else if (st.isFile()) copyFileSync(from, to);
    else throw new UnsafeEntryError(`cannot copy up ${from} for a hard link`);
    if (this.chown) lchownSync(to, st.uid, st.gid);
    if (!st.isSymbolicLink()) {
      chmodSync(to, st.mode & 0o7777);
      for (const k of listXattrs(from)) {
        const v = getXattr(from, k);
        if (v) setXattr(to, k, v);
      }
    }
    lutimesSync(to, st.atime, st.mtime);
  }
}

function toReadable(source: Readable | AsyncIterable<Uint8Array> | Uint8Array): Readable {
  if (source instanceof Readable) return source;
  if (source instanceof Uint8Array) return Readable.from([source]);
  return Readable.from(source);
}

/** Passes the first bytes through unchanged after deciding which decompressor (if any) follows. */
async function* peek(src: Readable, onHead: (head: Buffer) => void, count: (n: number) => void): AsyncGenerator<Buffer> {
  let first = true;
  for await (const chunk of src) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    if (first) {
      onHead(b);
      first = false;
    }
    count(b.length);
    yield b;
  }
}

/**
 * Applies a layer stream onto `target` (created if missing) and returns its diffID. On failure the error says
 * what and where; if `target` did not exist before, it is removed, otherwise the caller discards it (the
 * snapshot being prepared is the unit of atomicity).
 */
export async function applyLayer(source: Readable | AsyncIterable<Uint8Array> | Uint8Array, target: string,
  opts: ApplyOptions = {}): Promise<ApplyResult> {
  const created = !existsSync(target);
  mkdirSync(target, { recursive: true, mode: 0o755 });
  const root = realpathSync(target);
  const applier = new LayerApplier(root, opts);
  const parser = new TarParser(applier);
  const hash = createHash('sha256');
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRatio = opts.maxRatio ?? DEFAULT_MAX_RATIO;
  let size = 0;
  let compressedSize = 0;
  let compression: Compression = opts.compression && opts.compression !== 'auto' ? opts.compression : 'none';
  const raw = toReadable(source);
  try {
    // Sniff the compression from the first chunk, then build the rest of the pipeline.
    const it = peek(raw, (head) => {
      if (!opts.compression || opts.compression === 'auto') compression = detectCompression(head);
    }, (n) => (compressedSize += n));
    const firstResult = await it.next();
    const rest = async function* () {
      if (!firstResult.done) yield firstResult.value;
      yield* it;
    };
    const decompressor = compression === 'gzip' ? zlib.createGunzip({ chunkSize: CHUNK })
      : compression === 'zstd' ? zlib.createZstdDecompress({ chunkSize: CHUNK }) : undefined;
    const consume = async (src: AsyncIterable<Buffer>) => {
      for await (const chunk of src) {
        opts.signal?.throwIfAborted();
        hash.update(chunk);
        size += chunk.length;
        if (size > maxBytes) throw new ResourceExhaustedError(`layer exceeds ${maxBytes} uncompressed bytes`);
        if (compression !== 'none' && size > RATIO_FLOOR && size / Math.max(compressedSize, 1) > maxRatio) {
          throw new ResourceExhaustedError(`layer decompresses more than ${maxRatio} times its size (a decompression bomb?)`);
        }
        if (!parser.ended) parser.push(chunk);
        opts.onProgress?.({ compressedBytes: compressedSize, bytes: size, entries: applier.entries });
      }
    };
    const src = Readable.from(rest());
    if (decompressor) await pipeline(src, decompressor, consume, { signal: opts.signal });
    else await pipeline(src, consume, { signal: opts.signal });
    parser.end();
    applier.finish();
  } catch (err) {
    applier.abort();
    raw.destroy();
    if (created) rmSync(root, { recursive: true, force: true });
    if (err instanceof TarFormatError) throw new InvalidArgumentError(`apply layer to ${target}: invalid tar: ${err.message}`, { cause: err });
    throw wrap(err, `apply layer to ${target}`);
  }
  const diffID: Digest = `sha256:${hash.digest('hex')}`;
  if (opts.expectedDiffID && opts.expectedDiffID !== diffID) {
    if (created) rmSync(root, { recursive: true, force: true });
    throw new FailedPreconditionError(`apply layer to ${target}: diffID ${diffID} does not match the expected ${opts.expectedDiffID}`);
  }
  return { diffID, size, compressedSize, entries: applier.entries };
}
