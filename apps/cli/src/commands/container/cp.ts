import { daemonStatus, type DockerClient } from '@berth/docker-api';
import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync, createReadStream, linkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { CliError } from '../../framework/errors.ts';
import { humanSize } from '../../format/units.ts';
import { TarWriter, readTar, type TarEntry } from '../../lib/tar.ts';
import { isTTY, stdout } from '../../context.ts';

/** Go's os.ModeDir / os.ModeSymlink bits in the archive stat header. */
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;

export default class ContainerCp extends Command {
  static override usage = '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH';
  static override description = `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.`;

  static override examples = ['berth cp web:/etc/nginx/nginx.conf .', 'berth cp ./site web:/usr/share/nginx/html', 'berth cp web:/var/log - | tar t'];
  static override args = [Args.string('src', { required: true }), Args.string('dest', { required: true })];
  static override flags = {
    'archive': Flags.boolean({ char: 'a', description: 'Archive mode (copy all uid/gid information)' }),
    'follow-link': Flags.boolean({ char: 'L', description: 'Always follow symbol link in SRC_PATH' }),
    'quiet': Flags.boolean({ char: 'q', description: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ContainerCp);
    const [src, dst] = [splitCpArg(args[0]!), splitCpArg(args[1]!)];
    if (src.container && dst.container) this.error('copying between containers is not supported');
    if (!src.container && !dst.container) this.error('must specify at least one container source');
    if ((src.container && src.path === '') || (dst.container && dst.path === '')) this.error('filesystem path cannot be empty');
    const client = await this.ctx.client();
    const progress = !flags.quiet && isTTY(2);
    let copied: number;
    if (src.container) copied = await this.fromContainer(client, src.container, src.path, dst.path, flags);
    else copied = await this.toContainer(client, src.path, dst.container!, dst.path, flags.archive, flags['follow-link']);
    if (progress && dst.path !== '-' && src.path !== '-') {
      this.ctx.err(`Successfully copied ${humanSize(copied, 3)} to ${dst.container ? `${dst.container}:${dst.path}` : dst.path}\n`);
    }
    return 0;
  }

  private async fromContainer(client: DockerClient, container: string, srcPath: string, dstPath: string,
    flags: { 'archive': boolean; 'follow-link': boolean }): Promise<number> {
    let from = srcPath;
    let stat;
    try {
      stat = await client.containers.statPath(container, from);
      if (flags['follow-link'] && stat.mode & MODE_SYMLINK) {
        from = path.posix.resolve(path.posix.dirname(from), stat.linkTarget || from);
        stat = await client.containers.statPath(container, from);
      }
    } catch (err) {
      if (daemonStatus(err) === 404) throw new CliError(`Error response from daemon: Could not find the file ${srcPath} in container ${container}`, 1);
      throw err;
    }
    const { body } = await client.containers.getArchive(container, from);
    if (dstPath === '-') {
      let n = 0;
      for await (const c of body) {
        n += (c as Buffer).length;
        if (!stdout().write(c as Buffer)) await new Promise((r) => stdout().once('drain', r));
      }
      return n;
    }
    const srcIsDir = (stat.mode & MODE_DIR) !== 0;
    const contentsOnly = srcIsDir && /\/\.$/.test(srcPath);
    let dstExists = false;
    let dstIsDir = false;
    try {
      const st = statSync(dstPath);
      dstExists = true;
      dstIsDir = st.isDirectory();
    } catch {
      // does not exist
    }
    let extractDir: string;
    let rename: string | undefined;
    if (contentsOnly) {
      if (dstExists && !dstIsDir) throw new CliError('cannot copy a directory to a file', 1);
      mkdirSync(dstPath, { recursive: true });
      extractDir = dstPath;
    } else if (dstExists && dstIsDir) {
      extractDir = dstPath;
    } else {
      if (dstExists && srcIsDir) throw new CliError('cannot copy a directory to a file', 1);
      if (!dstExists && /\/$/.test(dstPath) && !srcIsDir) throw new CliError(`destination directory ${dstPath} does not exist`, 1);
      extractDir = path.dirname(path.resolve(dstPath));
      if (!existsSync(extractDir)) throw new CliError(`destination directory ${path.dirname(dstPath)} does not exist`, 1);
      rename = path.basename(dstPath.replace(/\/+$/, ''));
    }
    let total = 0;
    const dirTimes: Array<[string, Date]> = [];
    await readTar(body, (e, data) => {
      total += 512 + Math.ceil(e.size / 512) * 512;
      const mapName = (n: string): string | undefined => {
        const parts = n.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
        if (contentsOnly) {
          parts.shift();
          if (parts.length === 0) return undefined;
        } else if (rename !== undefined) {
          parts[0] = rename;
        }
        return parts.includes('..') ? undefined : parts.join('/');
      };
      const name = mapName(e.name);
      if (name === undefined) return;
      const target = path.join(extractDir, name);
      const linkTo = e.type === 'link' ? mapName(e.linkname ?? '') : undefined;
      writeEntry(target, e, data, flags.archive, linkTo === undefined ? undefined : path.join(extractDir, linkTo));
      if (e.type === 'directory') dirTimes.push([target, e.mtime]);
    });
    for (const [d, t] of dirTimes.reverse()) utimesSync(d, t, t);
    return total;
  }

  private async toContainer(client: DockerClient, srcPath: string, container: string, dstPath: string, archive: boolean,
    follow: boolean): Promise<number> {
    if (srcPath === '-') {
      await client.containers.putArchive(container, dstPath, process.stdin, { copyUIDGID: archive });
      return 0;
    }
    let st;
    try {
      st = follow ? statSync(srcPath) : lstatSync(srcPath);
    } catch {
      throw new CliError(`lstat ${path.resolve(srcPath)}: no such file or directory`, 1);
    }
    let extractDir = dstPath;
    let name = path.basename(path.resolve(srcPath));
    const contentsOnly = st.isDirectory() && /\/\.$/.test(srcPath);
    try {
      const dst = await client.containers.statPath(container, dstPath);
      const dstIsDir = (dst.mode & MODE_DIR) !== 0;
      if (!dstIsDir) {
        if (st.isDirectory()) throw new CliError('cannot copy a directory to a file', 1);
        extractDir = path.posix.dirname(dstPath);
        name = path.posix.basename(dstPath);
      }
    } catch (err) {
      if (daemonStatus(err) !== 404) throw err;
      if (/\/$/.test(dstPath) && !st.isDirectory()) throw new CliError(`destination directory ${container}:${dstPath} does not exist`, 1);
      extractDir = path.posix.dirname(dstPath.replace(/\/+$/, '') || '/');
      name = path.posix.basename(dstPath.replace(/\/+$/, ''));
    }
    const w = new TarWriter();
    let total = 0;
    const add = (abs: string, rel: string) => {
      const s = follow ? statSync(abs) : lstatSync(abs);
      const base = { name: rel, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, mtime: s.mtime, size: 0 };
      if (s.isDirectory()) {
        if (rel !== '') w.entry({ ...base, type: 'directory' });
        for (const child of readdirSync(abs).sort()) add(path.join(abs, child), rel === '' ? child : `${rel}/${child}`);
      } else if (s.isSymbolicLink()) {
        w.entry({ ...base, type: 'symlink', linkname: readlinkSync(abs) });
      } else if (s.isFile()) {
        w.entry({ ...base, type: 'file', size: s.size }, () => createReadStream(abs) as AsyncIterable<Buffer>);
        total += s.size;
      }
    };
    add(path.resolve(srcPath), contentsOnly ? '' : name);
    await client.containers.putArchive(container, extractDir, w.stream(), { copyUIDGID: archive });
    return total;
  }
}

function splitCpArg(arg: string): { container?: string; path: string } {
  if (path.isAbsolute(arg) || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

function writeEntry(target: string, e: TarEntry, data: Buffer, archive: boolean, hardlinkTarget?: string): void {
  mkdirSync(path.dirname(target), { recursive: true });
  switch (e.type) {
    case 'directory':
      mkdirSync(target, { recursive: true });
      chmodSync(target, e.mode & 0o7777);
      break;
    case 'file':
      if (existsSync(target) && lstatSync(target).isDirectory()) throw new CliError(`cannot overwrite directory ${target} with non-directory`, 1);
      rmSync(target, { force: true });
      writeFileSync(target, data, { mode: e.mode & 0o7777 });
      chmodSync(target, e.mode & 0o7777);
      utimesSync(target, e.mtime, e.mtime);
      break;
    case 'symlink':
      rmSync(target, { force: true });
      symlinkSync(e.linkname ?? '', target);
      break;
    case 'link':
      if (hardlinkTarget === undefined) return;
      rmSync(target, { force: true });
      linkSync(hardlinkTarget, target);
      break;
    default:
      return;
  }
  if (archive) {
    try {
      lchownSync(target, e.uid, e.gid);
    } catch {
      // not permitted for this user: keep ours
    }
  }
}
