/**
 * The TarHandler that writes a layer's entries into a directory (see apply.ts for the modes and the safety
 * rules). Every operation is a synchronous syscall, in archive order; directory times are set at the end.
 */
import {
  closeSync, constants as C, copyFileSync, fchmodSync, fchownSync, ftruncateSync, futimesSync, lchownSync,
  linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync,
  unlinkSync, utimesSync, chmodSync, type Stats, writeSync,
} from 'node:fs';
import path from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, ResourceExhaustedError } from '@berth/errdefs';
import type { ApplyOptions } from './apply.ts';
import { getXattr, isWhiteoutStat, listXattrs, makeWhiteout, mknod, setXattr } from './fs-ops.ts';
import { TarFormatError, type TarHeader } from './tar-header.ts';
import type { TarHandler } from './tar-reader.ts';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

export const DEFAULT_MAX_ENTRIES = 1_000_000;

/** This process's umask (read once; process.umask() without arguments is deprecated). */
const UMASK = (() => {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? parseInt(m[1]!, 8) : 0o022;
  } catch {
    return 0o022;
  }
})();
export const DEFAULT_MAX_BYTES = 64 * 2 ** 30;

class UnsafeEntryError extends InvalidArgumentError {}

/**
 * A detached apply (see ApplyOptions.detached) met an entry whose result depends on the layers below: a parent
 * directory or a hard-link target that is not in this layer. The caller applies the layer again on its parent.
 */
export class LowerLayersNeededError extends FailedPreconditionError {}

/** True when `err` (or an error it wraps) is a LowerLayersNeededError, also after crossing a thread as `name`. */
export function needsLowerLayers(err: unknown): boolean {
  for (let e = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof LowerLayersNeededError || (e as Error).name === 'LowerLayersNeededError') return true;
  }
  return false;
}

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
export class LayerApplier implements TarHandler {
  entries = 0;
  private apparentBytes = 0;
  private readonly overlay: boolean;
  private readonly detached: boolean;
  private readonly lowers: string[];
  private readonly chown: boolean;
  /** Unresolved relative dir → resolved relative dir, for dirs known to exist as real dirs. */
  private readonly dirs = new Map<string, string>();
  /** remove mode: resolved paths this layer created (kept by an opaque whiteout). */
  private readonly written = new Set<string>();
  private readonly dirTimes: [string, number, number][] = [];
  /** detached: directories created to hold entries whose parents this layer lacks, parents first. */
  readonly implicitDirs: string[] = [];
  private file: OpenFile | undefined;
  private skipping = false;
  private readonly root: string;
  private readonly opts: ApplyOptions;

  constructor(root: string, opts: ApplyOptions) {
    this.root = root;
    this.opts = opts;
    this.detached = opts.detached === true;
    this.overlay = opts.whiteouts === 'overlay' || this.detached;
    this.lowers = this.detached ? [] : opts.lowerDirs ?? [];
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
        const fd = this.create(abs, () => openSync(abs, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, h.mode & 0o777));
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
      // The file was created with its permission bits; chmod only when the umask took some away or special bits
      // (setuid/setgid/sticky, which chown clears) are wanted. One syscall less per file.
      const mode = h.mode & 0o7777;
      if (mode & 0o7000 || (mode & ~UMASK) !== mode) fchmodSync(f.fd, mode);
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
      // Missing (or whited out in this upper): look below in overlay mode. Detached, the layers below are not
      // known yet: a directory made to hold this layer's entries is recorded, and settleImplicitDirs gives it
      // the lowers' metadata (or asks for the apply again) once they are.
      if (this.detached && !st && !create) {
        throw new LowerLayersNeededError(`${JSON.stringify(real)} is not in this layer: applying it needs the layers below`);
      }
      const lower = this.overlay && !st && !this.detached ? this.lookupLower(real) : undefined;
      if (this.detached && !st) this.implicitDirs.push(real);
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
    if (this.detached) throw new LowerLayersNeededError(`${JSON.stringify(real)} is not in this layer: applying it needs the layers below`);
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

  /**
   * What copy-up would have given a directory made in a detached apply: the mode, owner and xattrs of the
   * directory the lowers have at `real` (its own times are kept: entries were created in it). Nothing when the
   * lowers have nothing there; LowerLayersNeededError when they have something else (a symlink or a file
   * changes where the layer's entries belong).
   */
  adoptLowerDir(real: string): void {
    const lower = this.lookupLower(real);
    if (!lower) return;
    if (!lower.st.isDirectory()) {
      throw new LowerLayersNeededError(`${JSON.stringify(real)} is not a directory in the layers below: applying it needs them`);
    }
    const abs = this.abs(real);
    const own = lstatSync(abs);
    this.copyUpMeta(path.join(lower.dir, real), abs, lower.st);
    utimesSync(abs, own.atime, own.mtime);
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

/**
 * Settles the directories a detached apply made (ApplyResult.implicitDirs) in `upper` against the layers that
 * turned out to be below it (`lowerDirs`, top first): each gets what copy-up would have given it. Throws
 * LowerLayersNeededError when the layer has to be applied again on its parent instead.
 */
export function settleImplicitDirs(upper: string, dirs: readonly string[], lowerDirs: string[]): void {
  const applier = new LayerApplier(upper, { whiteouts: 'overlay', lowerDirs });
  for (const d of dirs) applier.adoptLowerDir(d);
}
