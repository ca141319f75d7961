/**
 * Container records on disk: `<root>/<id>/config.json`, written atomically (temp file, fsync, rename, fsync of
 * the directory), so a crash leaves either the old or the new record, never half of one. A directory without a
 * readable record (a create that crashed half-way) is removed when the store opens.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { wrap } from '@berth/errdefs';
import type { ContainerRecord } from './record.ts';

const RECORD = 'config.json';

export class ContainerStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
    mkdirSync(root, { recursive: true, mode: 0o710 });
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }

  /** Every readable record; unreadable leftovers are removed (and logged). */
  loadAll(log: FastifyBaseLogger): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const id of readdirSync(this.root)) {
      if (id.startsWith('.')) continue;
      try {
        const rec = JSON.parse(readFileSync(path.join(this.root, id, RECORD), 'utf8')) as ContainerRecord;
        if (rec.Id !== id) throw new Error(`record id ${rec.Id} does not match its directory`);
        out.push(rec);
      } catch (err) {
        log.warn({ containerId: id, err }, 'removing a container directory without a readable record (interrupted create?)');
        rmSync(path.join(this.root, id), { recursive: true, force: true });
      }
    }
    return out;
  }

  save(rec: ContainerRecord): void {
    const dir = this.dir(rec.Id);
    mkdirSync(dir, { recursive: true, mode: 0o710 });
    writeAtomic(path.join(dir, RECORD), JSON.stringify(rec));
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }
}

/** temp + fsync + rename + fsync(dir). */
export function writeAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    const dfd = openSync(path.dirname(file), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    throw wrap(err, `write ${file}`);
  }
}
