// Container state on disk, one directory per container under the runtime root (default /run/berth-runc), so
// that separate berth-runc invocations agree on what exists. Files are written atomically (temp, fsync, rename).
//
//   <root>/<id>/state.json   the record below, with the spec the container was created from (exec, update)
//   <root>/<id>/exec.fifo    exists from create until start
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import type { RuntimeSpec } from '@berth/oci';
import type { CgroupLayout } from './cgroups/index.ts';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';

export interface ContainerRecord {
  id: string;
  /** the init's pid in the runtime's pid namespace */
  pid: number;
  /** /proc/<pid>/stat start time of the init */
  pidStart: number;
  bundle: string;
  rootfs: string;
  /** RFC 3339 */
  created: string;
  owner: string;
  /** relative cgroup path (same under every hierarchy) */
  cgroupPath: string;
  /** the cgroup layout at create (state lives on tmpfs, so it cannot outlive the mounts it describes) */
  cgroupLayout?: CgroupLayout;
  annotations?: Record<string, string>;
  /** the spec the container was created from, with later updates */
  config: RuntimeSpec;
}

const ID = /^[\w+.-]+$/;

export function validateId(id: string): void {
  if (!ID.test(id) || id === '.' || id === '..' || id.length > 1024) {
    throw new InvalidArgumentError(`invalid container id ${JSON.stringify(id)}: must match ${ID.source}`);
  }
}

/** Writes `file` atomically: a temp file beside it, written whole and fsynced, then renamed over it. */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** writeFileAtomic through the thread pool (the fsync does not hold the event loop). */
export async function writeFileAtomicAsync(file: string, data: string, mode = 0o600): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

export class StateStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  dir(id: string): string {
    validateId(id);
    return path.join(this.root, id);
  }

  fifo(id: string): string {
    return path.join(this.dir(id), 'exec.fifo');
  }

  /** Claims the id: the directory's creation is the atomic "does it exist" check. */
  reserve(id: string): string {
    const dir = this.dir(id);
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`container with id exists: ${id}`);
      throw err;
    }
    return dir;
  }

  save(record: ContainerRecord): void {
    writeFileAtomic(path.join(this.dir(record.id), 'state.json'), JSON.stringify(record));
  }

  saveAsync(record: ContainerRecord): Promise<void> {
    return writeFileAtomicAsync(path.join(this.dir(record.id), 'state.json'), JSON.stringify(record));
  }

  load(id: string): ContainerRecord {
    try {
      return JSON.parse(readFileSync(path.join(this.dir(id), 'state.json'), 'utf8')) as ContainerRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`container does not exist: ${id}`);
      throw err;
    }
  }

  /** Ids with a complete record (a directory without state.json is a create in progress). */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => ID.test(n)).filter((n) => {
      try {
        readFileSync(path.join(this.root, n, 'state.json'));
        return true;
      } catch {
        return false;
      }
    }).sort();
  }

  /** Removes the container's directory (its files are flat: unlink each, then rmdir; cheaper than rmSync). */
  remove(id: string): void {
    const dir = this.dir(id);
    try {
      for (const f of readdirSync(dir)) unlinkSync(path.join(dir, f));
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
