/**
 * `docker cp`: `HEAD|GET|PUT /containers/{id}/archive?path=`. Paths are resolved inside the container's root
 * component by component (symlinks followed as if the root were `/`, `..` stopping at it), never by the host's
 * path walk. A running container is reached through `/proc/<pid>/root` (so its volumes are seen) and is frozen
 * for the duration, as dockerd does, so nothing inside it can swap a directory for a symlink meanwhile; a
 * stopped one through a private mount of its filesystem.
 */
import { execFile, spawn } from 'node:child_process';
import {
  closeSync, constants as C, existsSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync,
  openSync, readlinkSync, rmSync, statSync, symlinkSync, writeSync, type Stats,
} from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { FastifyReply } from 'fastify';
import { ConflictError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from '@berth/errdefs';
import { TarParser, type TarHeader } from '@berth/layer-store';
import type { Engine } from '../engine.ts';
import { viewMounts } from './changes.ts';
import type { Container } from './container.ts';
import { mountSnapshot, unmount } from './rootfs.ts';

const run = promisify(execFile);

/** Resolves `p` inside `root`; returns the path relative to the root ('' is the root itself). */
export function resolveInRoot(root: string, p: string, followLast: boolean): string {
  const pending = p.split('/').filter((x) => x !== '' && x !== '.');
  const stack: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      stack.pop();
      continue;
    }
    const rel = [...stack, part].join('/');
    if (pending.length === 0 && !followLast) {
      stack.push(part);
      break;
    }
    let st: Stats;
    try {
      st = lstatSync(path.join(root, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && pending.length === 0) {
        stack.push(part);
        break;
      }
      throw err;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw new InvalidArgumentError(`too many levels of symbolic links in ${p}`);
      const target = readlinkSync(path.join(root, rel));
      if (target.startsWith('/')) stack.length = 0;
      pending.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      continue;
    }
    stack.push(part);
  }
  return stack.join('/');
}

/** Go's os.FileMode bits, as the path-stat header carries them. */
function goMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m |= 0x80000000;
  if (st.isSymbolicLink()) m |= 0x08000000;
  if (st.isFIFO()) m |= 0x02000000;
  if (st.isSocket()) m |= 0x01000000;
  if (st.isBlockDevice()) m |= 0x04000000;
  if (st.isCharacterDevice()) m |= 0x04000000 | 0x00200000;
  if (st.mode & 0o4000) m |= 0x00800000;
  if (st.mode & 0o2000) m |= 0x00400000;
  if (st.mode & 0o1000) m |= 0x00100000;
  return m >>> 0;
}

function statHeader(name: string, st: Stats, linkTarget: string): string {
  return Buffer.from(JSON.stringify({ name, size: st.size, mode: goMode(st), mtime: st.mtime.toISOString(), linkTarget })).toString('base64');
}

/** Runs `fn` with a root directory for the container's filesystem (see the module comment). */
async function withRoot<T>(engine: Engine, c: Container, write: boolean, fn: (root: string) => Promise<T>): Promise<T> {
  if (c.hasTask) {
    const freeze = !c.paused;
    if (freeze) await engine.rt.tasks.pause(c.id);
    try {
      return await fn(`/proc/${c.rec.State.Pid}/root`);
    } finally {
      if (freeze) await engine.rt.tasks.resume(c.id).catch(() => undefined);
    }
  }
  const mounts = await engine.rt.snapshots.mounts(c.rec.SnapshotKey, c.rec.Snapshotter);
  const dir = path.join(engine.config.execRoot, 'containers', c.id, `cp-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`);
  mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  await mountSnapshot(write ? mounts : viewMounts(mounts), dir, !write);
  const submounts: string[] = [];
  try {
    await mountUserMounts(c, dir, write, submounts);
    return await fn(dir);
  } finally {
    for (const m of submounts.reverse()) await unmount(m);
    await unmount(dir);
  }
}

/**
 * A stopped container's bind mounts and local volumes, bound over its filesystem at `root` as they would be when
 * it runs (dockerd's cp sees them too). Destinations are resolved inside the root, so a symlink in the container
 * cannot point a mount at the host; a missing mount point is created when writing, skipped when reading.
 */
async function mountUserMounts(c: Container, root: string, write: boolean, done: string[]): Promise<void> {
  const mounts = c.rec.Mounts.filter((m) => (m.Type === 'bind' || m.Type === 'volume') && m.Source)
    .sort((a, b) => a.Destination.length - b.Destination.length);
  for (const m of mounts) {
    const source = m.Subpath ? path.join(m.Source, m.Subpath) : m.Source;
    if (!existsSync(source)) continue;
    let target: string;
    try {
      target = path.join(root, resolveInRoot(root, m.Destination, true));
    } catch {
      continue;
    }
    if (!existsSync(target)) {
      if (!write) continue;
      if (statSync(source).isDirectory()) mkdirSync(target, { recursive: true, mode: 0o755 });
      else {
        mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
        closeSync(openSync(target, C.O_CREAT | C.O_WRONLY, 0o644));
      }
    }
    const ro = !write || !m.RW;
    await run('mount', ['--bind', ...(ro ? ['-o', 'ro'] : []), source, target]);
    done.push(target);
    if (ro) await run('mount', ['-o', 'remount,bind,ro', target]);
  }
}

function requirePath(p: string | undefined): string {
  if (!p) throw new InvalidArgumentError('path is required');
  return p.startsWith('/') ? p : `/${p}`;
}

function notFound(c: Container, p: string): NotFoundError {
  return new NotFoundError(`Could not find the file ${p} in container ${c.name}`);
}

function statOf(c: Container, root: string, p: string): { rel: string; st: Stats; link: string } {
  let rel: string;
  try {
    rel = resolveInRoot(root, p, false);
    const st = lstatSync(path.join(root, rel));
    const link = st.isSymbolicLink() ? path.posix.join('/', resolveInRoot(root, p, true)) : '';
    return { rel, st, link };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') throw notFound(c, p);
    throw err;
  }
}

export async function archiveHead(engine: Engine, c: Container, p: string | undefined, reply: FastifyReply): Promise<void> {
  const want = requirePath(p);
  const header = await withRoot(engine, c, false, async (root) => {
    const { st, link } = statOf(c, root, want);
    return statHeader(path.posix.basename(want) || '/', st, link);
  });
  await reply.header('X-Docker-Container-Path-Stat', header).code(200).send();
}

export async function archiveGet(engine: Engine, c: Container, p: string | undefined, reply: FastifyReply): Promise<void> {
  const want = requirePath(p);
  const contents = want.endsWith('/.') || want === '/';
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  let sent = false;
  await withRoot(engine, c, false, async (root) => {
    const { rel, st, link } = statOf(c, root, want);
    const base = path.posix.basename(want.replace(/\/\.$/, '')) || '/';
    const dirRel = contents ? resolveInRoot(root, want, true) : path.posix.dirname(rel);
    const args = ['-c', '-f', '-', '--numeric-owner', '--xattrs', '-C', path.join(root, dirRel === '.' ? '' : dirRel)];
    if (contents) {
      if (want === '/' || dirRel === '') args.push('--exclude=./proc/*', '--exclude=./sys/*');
      args.push('.');
    } else {
      args.push(path.posix.basename(rel));
    }
    const tar = spawn('tar', args.filter(Boolean), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    tar.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'application/x-tar',
      'X-Docker-Container-Path-Stat': statHeader(base, st, link),
    });
    sent = true;
    tar.stdout.pipe(res);
    res.on('close', () => tar.kill('SIGKILL'));
    tar.on('close', (code) => {
      if (code !== 0 && code !== 1) {
        engine.log.warn({ containerId: c.id, stderr }, 'archive: tar failed');
        res.destroy();
      }
      resolve();
    });
    tar.on('error', reject);
    // Keep the container frozen until the copy is done.
    await promise;
  }).catch((err: unknown) => {
    if (!sent) throw err;
    engine.log.warn({ containerId: c.id, err }, 'archive failed');
  });
  engine.containers.emit(c, 'archive-path', { path: want });
}

/** Extracts a tar under `dest` (a directory relative to `root`), never leaving the root. */
class SafeExtractor {
  private readonly root: string;
  private readonly dest: string;
  private readonly opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean };
  private fd: number | undefined;
  private current: TarHeader | undefined;
  private currentPath = '';
  private readonly dirTimes: { p: string; mtime: number }[] = [];

  constructor(root: string, dest: string, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }) {
    this.root = root;
    this.dest = dest;
    this.opts = opts;
  }

  private abs(rel: string): string {
    return path.join(this.root, rel);
  }

  entry(h: TarHeader): void {
    const clean = path.posix.normalize(`/${h.name}`).replace(/\/$/, '');
    if (clean === '') return; // the archive's own root ("./")
    const target = path.posix.join(this.dest, clean);
    const parentRel = resolveInRoot(this.root, path.posix.dirname(target), true);
    const rel = path.posix.join(parentRel, path.posix.basename(target));
    const abs = this.abs(rel);
    let existing: Stats | undefined;
    try {
      existing = lstatSync(abs);
    } catch {
      existing = undefined;
    }
    if (existing && this.opts.noOverwriteDirNonDir && existing.isDirectory() !== (h.type === 'dir')) {
      throw new InvalidArgumentError(`cannot overwrite ${existing.isDirectory() ? 'directory' : 'non-directory'} "${target}" with ${h.type === 'dir' ? 'directory' : 'non-directory'}`);
    }
    if (existing && !(existing.isDirectory() && h.type === 'dir')) rmSync(abs, { recursive: true, force: true });
    const uid = this.opts.copyUIDGID ? h.uid : 0;
    const gid = this.opts.copyUIDGID ? h.gid : 0;
    switch (h.type) {
      case 'dir':
        if (!existing || !existing.isDirectory()) mkdirSync(abs, { mode: h.mode & 0o7777 });
        lchownSync(abs, uid, gid);
        this.dirTimes.push({ p: abs, mtime: h.mtime });
        return;
      case 'file':
        this.fd = openSync(abs, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, h.mode & 0o7777);
        this.current = h;
        this.currentPath = abs;
        return;
      case 'symlink':
        symlinkSync(h.linkname, abs);
        lchownSync(abs, uid, gid);
        lutimesSync(abs, h.mtime, h.mtime);
        return;
      case 'link': {
        const linkRel = resolveInRoot(this.root, path.posix.join(this.dest, path.posix.normalize(`/${h.linkname}`)), false);
        linkSync(this.abs(linkRel), abs);
        return;
      }
      default:
        // Devices and FIFOs are not copied (as with `docker cp` into a rootless target).
        return;
    }
  }

  data(chunk: Buffer): void {
    if (this.fd === undefined) return;
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off);
  }

  entryEnd(): void {
    if (this.fd === undefined) return;
    const h = this.current!;
    const uid = this.opts.copyUIDGID ? h.uid : 0;
    const gid = this.opts.copyUIDGID ? h.gid : 0;
    fchownSync(this.fd, uid, gid);
    fchmodSync(this.fd, h.mode & 0o7777);
    futimesSync(this.fd, h.mtime, h.mtime);
    closeSync(this.fd);
    this.fd = undefined;
    this.current = undefined;
  }

  finish(): void {
    for (const d of this.dirTimes.reverse()) {
      try {
        lutimesSync(d.p, d.mtime, d.mtime);
      } catch {
        // removed by a later entry
      }
    }
  }

  abort(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      rmSync(this.currentPath, { force: true });
    }
  }
}

export async function archivePut(
  engine: Engine, c: Container, p: string | undefined, body: Readable | undefined,
  opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean },
): Promise<void> {
  const want = requirePath(p);
  if (!body) throw new InvalidArgumentError('no archive in the request body');
  if (c.rec.HostConfig.ReadonlyRootfs && !c.rec.Mounts.some((m) => m.RW && (want === m.Destination || want.startsWith(`${m.Destination}/`)))) {
    throw new PermissionDeniedError('container rootfs is marked read-only');
  }
  if (c.removing) throw new ConflictError(`container ${c.id} is being removed`);
  await withRoot(engine, c, true, async (root) => {
    let destRel: string;
    try {
      destRel = resolveInRoot(root, want, true);
      const st = lstatSync(path.join(root, destRel));
      if (!st.isDirectory()) throw new InvalidArgumentError('extraction point is not a directory');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(c, want);
      throw err;
    }
    const ex = new SafeExtractor(root, destRel, opts);
    const parser = new TarParser(ex);
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) parser.push(chunk);
      parser.end();
      ex.finish();
    } catch (err) {
      ex.abort();
      if (err instanceof Error && !(err as { code?: string }).code?.startsWith?.('E')) throw new InvalidArgumentError(`extract the archive: ${err.message}`);
      throw err;
    }
  });
  engine.containers.emit(c, 'extract-to-dir', { path: want });
}
