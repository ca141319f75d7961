/**
 * Producing a layer tar from a change. Two ways, both deterministic (entries sorted bytewise, times in whole
 * seconds, no user/group names, no atime/ctime) so the same tree always gives the same diffID:
 * - `overlay`: an overlayfs upper dir IS the diff; it is read directly, whiteouts (char 0/0) become `.wh.name`
 *   and opaque directories get a `.wh..wh..opq` entry (Docker's overlay2 does the same).
 * - `trees`: a full tree compared against its base (native snapshots): added and changed entries, `.wh.`
 *   entries for removals, and the parent directories of every change.
 */
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { InvalidArgumentError } from '@berth/errdefs';
import { devMajor, devMinor, getXattr, listXattrs } from './fs-ops.ts';
import { OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './layer-applier.ts';
import { END_OF_ARCHIVE, encodeHeader, paddingFor, type EntryType, type TarHeader } from './tar-header.ts';

export type DiffOptions =
  | { mode: 'overlay'; upper: string; sourceDateEpoch?: number }
  | { mode: 'trees'; lower?: string; upper: string; sourceDateEpoch?: number };

const READ_CHUNK = 1 << 20;

function sortNames(names: string[]): string[] {
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

async function lstatBig(p: string): Promise<BigIntStats | undefined> {
  try {
    return await lstat(p, { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function typeOfStat(st: BigIntStats): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets are not archived (as in Docker)
}

function isWhiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

function xattrsOf(p: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const k of listXattrs(p)) {
    if (k.startsWith('trusted.overlay.')) continue;
    const v = getXattr(p, k);
    if (v) out[k] = v;
  }
  return out;
}

class TarEmitter {
  private readonly links = new Map<string, string>();
  private readonly epoch: number | undefined;

  constructor(epoch: number | undefined) {
    this.epoch = epoch;
  }

  private time(st: BigIntStats): number {
    const t = Number(st.mtimeMs / 1000n);
    return this.epoch !== undefined && t > this.epoch ? this.epoch : t;
  }

  header(rel: string, abs: string, st: BigIntStats, type: EntryType, linkname = ''): TarHeader {
    return {
      name: type === 'dir' ? `${rel}/` : rel,
      type,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: type === 'file' ? Number(st.size) : 0,
      mtime: this.time(st),
      linkname,
      uname: '',
      gname: '',
      devmajor: type === 'char' || type === 'block' ? devMajor(Number(st.rdev)) : 0,
      devminor: type === 'char' || type === 'block' ? devMinor(Number(st.rdev)) : 0,
      xattrs: xattrsOf(abs),
    };
  }

  /** Emits one filesystem object (not recursing). */
  async* entry(rel: string, abs: string, st: BigIntStats): AsyncGenerator<Buffer> {
    const type = typeOfStat(st);
    if (!type) return;
    if (type !== 'dir' && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.links.get(key);
      if (first !== undefined) {
        const h = this.header(rel, abs, st, 'link', first);
        h.size = 0;
        yield encodeHeader(h);
        return;
      }
      this.links.set(key, rel);
    }
    const h = this.header(rel, abs, st, type, type === 'symlink' ? await readlink(abs) : '');
    yield encodeHeader(h);
    if (type === 'file' && h.size > 0) {
      yield* readExactly(abs, h.size);
      yield paddingFor(h.size);
    }
  }

  whiteout(rel: string, st: BigIntStats | undefined): Buffer {
    return encodeHeader({
      name: rel, type: 'file', mode: 0o600, uid: st ? Number(st.uid) : 0, gid: st ? Number(st.gid) : 0, size: 0,
      mtime: st ? this.time(st) : 0, linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0, xattrs: {},
    });
  }
}

async function* readExactly(abs: string, size: number): AsyncGenerator<Buffer> {
  const fh = await open(abs, 'r');
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, left));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) throw new InvalidArgumentError(`diff: ${abs} shrank while it was being archived`);
      left -= bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

async function* overlayDiff(upper: string, rel: string, em: TarEmitter): AsyncGenerator<Buffer> {
  const dir = rel ? path.join(upper, rel) : upper;
  for (const name of sortNames(await readdir(dir))) {
    const childRel = rel ? `${rel}/${name}` : name;
    const abs = path.join(dir, name);
    const st = await lstat(abs, { bigint: true });
    if (isWhiteout(st)) {
      // A whiteout node's own times and owner mean nothing (they are often links to one shared node): zeros,
      // so re-applying and re-diffing a layer gives the same bytes.
      yield em.whiteout(rel ? `${rel}/${WHITEOUT_PREFIX}${name}` : `${WHITEOUT_PREFIX}${name}`, undefined);
      continue;
    }
    yield* em.entry(childRel, abs, st);
    if (st.isDirectory()) {
      if (getXattr(abs, OVERLAY_OPAQUE_XATTR)?.toString() === 'y') {
        yield em.whiteout(`${childRel}/${WHITEOUT_OPAQUE}`, st);
      }
      yield* overlayDiff(upper, childRel, em);
    }
  }
}

function sameMeta(a: BigIntStats, b: BigIntStats, la: string, lb: string): boolean {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.isDirectory()) return sameXattrs(la, lb);
  if (a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.rdev !== b.rdev) return false;
  return sameXattrs(la, lb);
}

function sameXattrs(a: string, b: string): boolean {
  const xa = xattrsOf(a);
  const xb = xattrsOf(b);
  const ka = Object.keys(xa).sort();
  const kb = Object.keys(xb).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && xa[k]!.equals(xb[k]!));
}

/** A trees diff: `pending` holds the headers of ancestor dirs not yet written (written before the first change). */
async function* treesDiff(lower: string | undefined, upper: string, rel: string, em: TarEmitter,
  pending: (() => AsyncGenerator<Buffer>)[]): AsyncGenerator<Buffer> {
  const udir = rel ? path.join(upper, rel) : upper;
  const ldir = lower === undefined ? undefined : rel ? path.join(lower, rel) : lower;
  const unames = new Set(await readdir(udir));
  const lnames = ldir === undefined ? new Set<string>() : new Set(await readdir(ldir).catch(() => [] as string[]));
  const flush = async function* () {
    while (pending.length) yield* pending.shift()!();
  };
  for (const name of sortNames([...new Set([...unames, ...lnames])])) {
    const childRel = rel ? `${rel}/${name}` : name;
    const uabs = path.join(udir, name);
    const labs = ldir === undefined ? undefined : path.join(ldir, name);
    const ust = unames.has(name) ? await lstatBig(uabs) : undefined;
    const lst = labs !== undefined && lnames.has(name) ? await lstatBig(labs) : undefined;
    if (!ust) {
      if (lst) {
        yield* flush();
        yield em.whiteout(rel ? `${rel}/${WHITEOUT_PREFIX}${name}` : `${WHITEOUT_PREFIX}${name}`, undefined);
      }
      continue;
    }
    const bothDirs = lst?.isDirectory() && ust.isDirectory();
    if (lst && (bothDirs || ((lst.mode & 0o170000n) === (ust.mode & 0o170000n)))) {
      if (bothDirs) {
        if (sameMeta(lst, ust, labs!, uabs)) {
          pending.push(() => em.entry(childRel, uabs, ust));
          const depth = pending.length;
          yield* treesDiff(lower, upper, childRel, em, pending);
          if (pending.length >= depth) pending.length = depth - 1;
        } else {
          yield* flush();
          yield* em.entry(childRel, uabs, ust);
          yield* treesDiff(lower, upper, childRel, em, pending);
        }
        continue;
      }
      const same = sameMeta(lst, ust, labs!, uabs)
        && (!ust.isSymbolicLink() || (await readlink(labs!)) === (await readlink(uabs)));
      if (same) continue;
    }
    // Added, changed, or replaced by another type.
    yield* flush();
    yield* em.entry(childRel, uabs, ust);
    if (ust.isDirectory()) yield* treesDiff(undefined, upper, childRel, em, pending);
  }
}

/** A layer tar (uncompressed) for a change; pipe it through `compressLayer` to store it. */
export function diffLayer(opts: DiffOptions): Readable {
  const em = new TarEmitter(opts.sourceDateEpoch);
  async function* gen(): AsyncGenerator<Buffer> {
    if (opts.mode === 'overlay') yield* overlayDiff(opts.upper, '', em);
    else yield* treesDiff(opts.lower, opts.upper, '', em, []);
    yield END_OF_ARCHIVE;
  }
  return Readable.from(gen(), { objectMode: false });
}
