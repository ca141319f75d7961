/**
 * The classic builder's per-file checksum (tarsum v1 over one entry): sha256 of the entry's header fields
 * (name, mode, uid, gid, size, typeflag, linkname, devmajor, devminor, then xattrs sorted by name — user
 * names and mtime left out) followed by the file's content. COPY/ADD history says `file:<sum>` for one file,
 * `dir:<sha256 of the sorted sums of everything below, comma-joined>` for a directory and `multi:…` for
 * several sources, exactly as dockerd writes them, so the same context gives the same history and cache keys.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readFileSync, readSync, readlinkSync, type Stats } from 'node:fs';

export interface EntryHeader {
  name: string;
  uname?: string;
  gname?: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, Buffer | string>;
}

const TYPEFLAGS: Record<string, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

export function typeflagOf(type: string): string {
  return TYPEFLAGS[type] ?? '0';
}

/** A hash primed with the entry's header; feed it the content and take the hex digest. */
export function entryHash(h: EntryHeader): Hash {
  const hash = createHash('sha256');
  const fields: [string, string][] = [
    ['name', h.name], ['mode', String(h.mode)], ['uid', String(h.uid)], ['gid', String(h.gid)], ['size', String(h.size)],
    ['typeflag', h.typeflag], ['linkname', h.linkname], ['uname', h.uname ?? ''], ['gname', h.gname ?? ''],
    ['devmajor', String(h.devmajor)], ['devminor', String(h.devminor)],
  ];
  for (const [k, v] of fields) hash.update(k + v);
  for (const k of Object.keys(h.xattrs).sort()) {
    hash.update(k);
    hash.update(h.xattrs[k]!);
  }
  return hash;
}

/** `name` prefixed: `multi:`/`dir:` sums of a list. */
export function hashStrings(prefix: string, list: string[]): string {
  return `${prefix}:${createHash('sha256').update(list.join(',')).digest('hex')}`;
}

function major(rdev: number): number {
  return ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}

function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
}

let hostNames: { users: Map<number, string>; groups: Map<number, string> } | undefined;

/** The daemon host's user and group names (dockerd's tar headers carry them for files read from disk). */
function hostName(kind: 'users' | 'groups', id: number): string {
  if (!hostNames) {
    const read = (file: string) => {
      const m = new Map<number, string>();
      try {
        for (const line of readFileSync(file, 'utf8').split('\n')) {
          const f = line.split(':');
          if (f.length > 2 && /^\d+$/.test(f[2]!) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]!);
        }
      } catch {
        // no names
      }
      return m;
    };
    hostNames = { users: read('/etc/passwd'), groups: read('/etc/group') };
  }
  return hostNames[kind].get(id) ?? '';
}

const TYPE_BITS: Record<string, number> = { file: 0o100000, dir: 0o40000, symlink: 0o120000, char: 0o20000, block: 0o60000, fifo: 0o10000 };

/**
 * The sum of a file on disk (`name`: its path relative to the source root). As dockerd's header for a file on
 * disk, the mode carries the file type bits and the owner's names come from the daemon host.
 */
export function fileSum(fullPath: string, name: string, st: Stats = lstatSync(fullPath)): string {
  let type = 'file';
  let linkname = '';
  let size = 0;
  if (st.isDirectory()) type = 'dir';
  else if (st.isSymbolicLink()) {
    type = 'symlink';
    linkname = readlinkSync(fullPath);
  } else if (st.isCharacterDevice()) type = 'char';
  else if (st.isBlockDevice()) type = 'block';
  else if (st.isFIFO()) type = 'fifo';
  else size = st.size;
  const dev = type === 'char' || type === 'block';
  const h = entryHash({
    name: type === 'dir' ? `${name}/` : name, mode: (st.mode & 0o7777) | (TYPE_BITS[type] ?? 0), uid: st.uid, gid: st.gid, size,
    typeflag: typeflagOf(type), linkname, uname: hostName('users', st.uid), gname: hostName('groups', st.gid),
    devmajor: dev ? major(st.rdev) : 0, devminor: dev ? minor(st.rdev) : 0, xattrs: {},
  });
  if (type === 'file' && size > 0) {
    const fd = openSync(fullPath, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n <= 0) break;
        h.update(buf.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
  }
  return h.digest('hex');
}
