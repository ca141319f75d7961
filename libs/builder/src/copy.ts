/**
 * COPY and ADD as the classic builder performs them: sources resolved in the context (or a stage's or image's
 * filesystem for `--from`) with symlinks followed inside it, wildcards matched with Go's filepath.Match over
 * every path, a directory's *contents* copied into the destination, a trailing `/` or an existing directory
 * making the destination a directory, parent directories created 0755 (owned by the `--chown` user when new),
 * modes and times kept, owners set to root (or `--chown`, or kept for `--from`), local tar archives unpacked
 * by ADD (gzip, bzip2, xz, zstd), `--chmod` applied to everything copied.
 */
import { spawn } from 'node:child_process';
import { createReadStream, lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { applyLayer, getXattr, listXattrs, setXattr } from '@berth/layer-store';
import { dirSum, type CopySource } from './context.ts';
import { resolveInRoot } from './scoped-path.ts';
import { hashStrings } from './tarsum.ts';

export interface CopyInfo {
  source: CopySource;
  /** Relative to the source root, cleaned. */
  path: string;
  /** `file:<sum>` or `dir:<sum>`. */
  hash: string;
  /** Downloads are never unpacked. */
  noDecompress?: boolean;
}

export interface Identity {
  uid: number;
  gid: number;
}

/** Whether a source path has wildcards (`\` escapes the next character). */
export function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

/** Go's path/filepath.Match: `*` and `?` never match `/`; `[…]` classes with ranges and `^`; `\` escapes. */
export function goMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\') {
      i++;
      if (i >= pattern.length) return false;
      re += `\\${pattern[i]}`;
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return false;
      let cls = pattern.slice(i + 1, end);
      let neg = false;
      if (cls.startsWith('^')) {
        neg = true;
        cls = cls.slice(1);
      }
      re += `[${neg ? '^/' : ''}${cls.replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else {
      re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  try {
    return new RegExp(`${re}$`, 'su').test(name);
  } catch {
    return false;
  }
}

function statFollow(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/** The sources of one COPY/ADD source path (several for wildcards). */
export function copyInfosFor(source: CopySource, orig: string, opts: { fromImage: boolean; allowWildcards?: boolean }): CopyInfo[] {
  let p = orig.replace(/^\/+/, '').replace(/^(\.\/)+/, '');
  if ((opts.allowWildcards ?? true) && containsWildcards(p)) {
    const out: CopyInfo[] = [];
    const walk = (rel: string) => {
      const host = rel === '' ? source.root : path.join(source.root, rel);
      let entries: string[];
      try {
        entries = lstatSync(host).isDirectory() ? readdirSorted(host) : [];
      } catch {
        return;
      }
      for (const e of entries) {
        const r = rel === '' ? e : `${rel}/${e}`;
        if (goMatch(p, r)) out.push(...copyInfosFor(source, r, { ...opts, allowWildcards: false }));
        walk(r);
      }
    };
    walk('');
    return out;
  }
  p = path.posix.normalize(p === '' ? '.' : p);
  const full = resolveInRoot(source.root, p);
  const st = statFollow(full);
  if (!st) {
    const msg = `stat ${p}: file does not exist`;
    throw new NotFoundError(opts.fromImage ? msg : `file not found in build context or excluded by .dockerignore: ${msg}`);
  }
  if (!st.isDirectory()) return [{ source, path: p, hash: `file:${source.hash(p)}` }];
  return [{ source, path: p, hash: dirSum(source, p) }];
}

/** Entries in byte order (Go's WalkDir order). */
function readdirSorted(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `file:…`/`dir:…` for one source, `multi:…` for several (as the history and cache key carry it). */
export function sourcesHash(infos: CopyInfo[]): string {
  if (infos.length === 1) return infos[0]!.hash;
  return hashStrings('multi', infos.map((i) => i.hash));
}

/** The destination relative to the working directory; a trailing `/` is kept. */
export function normalizeDest(workingDir: string, dest: string): string {
  if (dest.startsWith('/')) return dest;
  const endsInSlash = dest.endsWith('/');
  let d = path.posix.join('/', workingDir, dest);
  if (endsInSlash && !d.endsWith('/')) d += '/';
  return d;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fsp.lstat(p);
  } catch {
    return undefined;
  }
}

/** mkdir -p with mode 0755; new directories get `owner`. */
async function mkdirAll(dir: string, owner: Identity | undefined): Promise<void> {
  const st = await lstatOrUndefined(dir);
  if (st?.isDirectory()) return;
  if (st && !st.isDirectory()) {
    const t = statFollow(dir);
    if (t?.isDirectory()) return;
    throw new InvalidArgumentError(`mkdir ${dir}: not a directory`);
  }
  await mkdirAll(path.dirname(dir), owner);
  await fsp.mkdir(dir, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  await fsp.chmod(dir, 0o755);
  await fsp.chown(dir, owner?.uid ?? 0, owner?.gid ?? 0);
}

interface TreeCopyOpts {
  /** Owner of everything copied; undefined keeps the source's. */
  identity: Identity | undefined;
  chmod: number | undefined;
  /** Hard links inside the copied tree: source inode → first destination. */
  links: Map<string, string>;
}

async function copyXattrs(src: string, dst: string): Promise<void> {
  for (const name of listXattrs(src)) {
    if (name.startsWith('trusted.overlay.')) continue;
    const v = getXattr(src, name);
    if (v !== undefined) {
      try {
        setXattr(dst, name, v);
      } catch {
        // Best effort, as dockerd's archiver does.
      }
    }
  }
}

async function setMeta(dst: string, st: Stats, opts: TreeCopyOpts, isLink: boolean): Promise<void> {
  const uid = opts.identity?.uid ?? st.uid;
  const gid = opts.identity?.gid ?? st.gid;
  await fsp.lchown(dst, uid, gid);
  if (!isLink) await fsp.chmod(dst, opts.chmod ?? st.mode & 0o7777);
  await fsp.lutimes(dst, st.mtime, st.mtime);
}

/** Copies one entry (recursively for directories) from `src` to `dst`, replacing what is in the way. */
async function copyEntry(src: string, dst: string, opts: TreeCopyOpts): Promise<void> {
  const st = await fsp.lstat(src);
  const existing = await lstatOrUndefined(dst);
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) await fsp.rm(dst, { recursive: true, force: true });
    if (!existing?.isDirectory()) await fsp.mkdir(dst, { mode: 0o700 });
    await copyXattrs(src, dst);
    for (const name of readdirSorted(src)) await copyEntry(path.join(src, name), path.join(dst, name), opts);
    await setMeta(dst, st, opts, false);
    return;
  }
  if (existing) await fsp.rm(dst, { recursive: true, force: true });
  const inode = `${st.dev}:${st.ino}`;
  if (st.nlink > 1 && !st.isSymbolicLink()) {
    const first = opts.links.get(inode);
    if (first) {
      await fsp.link(first, dst);
      return;
    }
    opts.links.set(inode, dst);
  }
  if (st.isSymbolicLink()) {
    await fsp.symlink(await fsp.readlink(src), dst);
    await setMeta(dst, st, opts, true);
    return;
  }
  if (st.isFile()) {
    await fsp.copyFile(src, dst);
    await copyXattrs(src, dst);
  } else if (st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice()) {
    const type = st.isFIFO() ? 'p' : st.isCharacterDevice() ? 'c' : 'b';
    const args = [dst, type];
    if (type !== 'p') args.push(String(((st.rdev >> 8) & 0xfff) | (Math.floor(st.rdev / 2 ** 32) & ~0xfff)), String((st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)));
    await run('mknod', args);
  } else {
    return; // sockets are not copied
  }
  await setMeta(dst, st, opts, false);
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${err.trim()}`))));
  });
}

type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'none';

function compressionOf(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  return 'none';
}

function decompress(file: string, c: Compression): Readable {
  if (c === 'none') return createReadStream(file);
  if (c === 'gzip') return createReadStream(file).pipe(createGunzip());
  const tool = c === 'bzip2' ? 'bzip2' : c === 'xz' ? 'xz' : 'zstd';
  const p = spawn(tool, ['-dc', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  return p.stdout;
}

function validTarHeader(b: Buffer): boolean {
  if (b.length < 512) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  const stored = Number.parseInt(b.toString('latin1', 148, 156).replace(/[\0 ]+$/g, '').trim() || 'NaN', 8);
  return stored === sum;
}

/** Whether ADD unpacks `file`: a tar, possibly compressed (what dockerd's IsArchivePath checks). */
export async function archiveCompression(file: string): Promise<Compression | undefined> {
  const fh = await fsp.open(file, 'r');
  let head: Buffer;
  try {
    const b = Buffer.alloc(512);
    const { bytesRead } = await fh.read(b, 0, 512, 0);
    head = b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const c = compressionOf(head);
  if (c === 'none') return validTarHeader(head) ? 'none' : undefined;
  const stream = decompress(file, c);
  let got = Buffer.alloc(0);
  try {
    for await (const chunk of stream) {
      got = Buffer.concat([got, chunk as Buffer]);
      if (got.length >= 512) break;
    }
  } catch {
    return undefined;
  } finally {
    stream.destroy();
  }
  return validTarHeader(got) ? c : undefined;
}

export interface PerformCopyOptions {
  /** ADD: unpack local archives. */
  decompress: boolean;
  /** `--chown` (or root); undefined keeps the owners (COPY --from without --chown). */
  identity: Identity | undefined;
  chmod?: number;
}

/** Copies one source into the mounted filesystem at `root`, at `dest` (absolute, may end with `/`). */
export async function performCopy(root: string, dest: string, info: CopyInfo, opts: PerformCopyOptions): Promise<void> {
  const src = resolveInRoot(info.source.root, info.path);
  let destPath = resolveInRoot(root, dest);
  const st = await fsp.stat(src).catch(() => {
    throw new NotFoundError(`source path not found: ${info.path}`);
  });
  const owner = opts.identity;
  const treeOpts: TreeCopyOpts = { identity: opts.identity, chmod: opts.chmod, links: new Map() };
  if (st.isDirectory()) {
    const existed = (await lstatOrUndefined(destPath))?.isDirectory() === true || statFollow(destPath)?.isDirectory() === true;
    await mkdirAll(destPath, undefined);
    if (!existed && owner) await fsp.chown(destPath, owner.uid, owner.gid);
    for (const name of readdirSorted(src)) await copyEntry(path.join(src, name), path.join(destPath, name), treeOpts);
    return;
  }
  if (opts.decompress && !info.noDecompress) {
    const c = await archiveCompression(src);
    if (c !== undefined) {
      await mkdirAll(destPath, undefined);
      await applyLayer(decompress(src, c), destPath, { compression: 'none' });
      return;
    }
  }
  const destIsDir = statFollow(destPath)?.isDirectory() === true;
  if (destIsDir || dest.endsWith('/')) destPath = path.join(destPath, path.posix.basename(info.path));
  await mkdirAll(path.dirname(destPath), owner);
  const fst = await fsp.stat(src);
  const existing = await lstatOrUndefined(destPath);
  if (existing) await fsp.rm(destPath, { recursive: true, force: true });
  await fsp.copyFile(src, destPath);
  await copyXattrs(src, destPath);
  await setMeta(destPath, fst, treeOpts, false);
}
