import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes a file so that readers see the old or the new content, never half of it: temp file, fsync, rename.
 * Without `durable`, no fsync: for records that only matter as long as the host is up (a reboot voids them).
 */
export function writeFileAtomic(file: string, data: string, mode = 0o644, durable = true): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Rewrites a file in place (same inode): for files bind-mounted into running containers (`/etc/hosts`,
 * `/etc/resolv.conf`), where a rename would leave the container looking at the old inode.
 */
export function writeFileInPlace(file: string, data: string, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(file, 'w', mode);
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}
