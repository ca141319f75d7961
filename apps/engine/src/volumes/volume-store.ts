/**
 * Named volumes of the `local` driver, as dockerd keeps them: `<data-root>/volumes/<name>/_data` holds the
 * data, `<name>/volume.json` the record (driver, labels, options, creation time). Volumes are referenced by
 * containers (the engine says which, so `rm` can refuse a volume in use with Docker's message), and a volume
 * with driver options is mounted on `_data` while at least one running container uses it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  ConflictError, InternalError, InvalidArgumentError, NotFoundError, wrap,
} from '@berth/errdefs';
import type { Volume, VolumeCreateRequest } from '@berth/docker-api';
import { isMountPoint, mountLocal, needsMount, unmountLocal, validateLocalOptions } from './local-driver.ts';
import { writeFileAtomic } from './atomic-file.ts';

/** Docker marks volumes it made for `-v /path` and image `VOLUME`s with this label (and prunes only them by default). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Labels: Record<string, string>;
  Options: Record<string, string>;
  CreatedAt: string;
}

export interface VolumeStoreOptions {
  /** `<data-root>/volumes` */
  root: string;
  /** The ids of the containers (running or not) whose mounts name the volume. */
  usedBy(name: string): string[];
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

interface Logger {
  warn(obj: object, msg?: string): void;
}

export class VolumeStore {
  private readonly root: string;
  private readonly usedBy: (name: string) => string[];
  private readonly records = new Map<string, VolumeRecord>();
  /** Running containers holding each volume (mounted while non-empty). */
  private readonly holders = new Map<string, Set<string>>();
  private readonly log: Logger | undefined;

  constructor(o: VolumeStoreOptions, log?: Logger) {
    this.root = o.root;
    this.usedBy = o.usedBy;
    this.log = log;
    mkdirSync(this.root, { recursive: true, mode: 0o701 });
    for (const name of readdirSync(this.root)) {
      if (name.startsWith('.removing-')) {
        rmSync(path.join(this.root, name), { recursive: true, force: true });
        continue;
      }
      const file = path.join(this.root, name, 'volume.json');
      try {
        this.records.set(name, JSON.parse(readFileSync(file, 'utf8')) as VolumeRecord);
      } catch (err) {
        // A directory without a record: a create interrupted before its record was written.
        const dir = path.join(this.root, name);
        if (existsSync(dir) && !existsSync(file)) rmSync(dir, { recursive: true, force: true });
        else this.log?.warn({ err, file }, 'ignoring unreadable volume record');
      }
    }
  }

  has(name: string): boolean {
    return this.records.has(name);
  }

  list(): Volume[] {
    return [...this.records.values()].map((r) => this.view(r));
  }

  all(): VolumeRecord[] {
    return [...this.records.values()].map((r) => structuredClone(r));
  }

  inspect(name: string): Volume {
    return this.view(this.get(name));
  }

  /** The directory containers see (`Mountpoint`). */
  dataPath(name: string): string {
    return path.join(this.root, name, '_data');
  }

  /**
   * Creates a volume (a random name when none is given); creating one that exists returns it as Docker does,
   * unless the driver differs.
   */
  create(req: VolumeCreateRequest, o: { anonymous?: boolean } = {}): Volume {
    const name = req.Name || randomBytes(32).toString('hex');
    const driver = req.Driver || 'local';
    if (!NAME.test(name)) {
      throw new InvalidArgumentError(
        `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    if (driver !== 'local') throw new NotFoundError(`create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const existing = this.records.get(name);
    if (existing) return this.view(existing);
    const options = validateLocalOptions(name, req.DriverOpts);
    const labels = { ...(req.Labels ?? {}) };
    if (o.anonymous) labels[ANONYMOUS_LABEL] = '';
    const rec: VolumeRecord = { Name: name, Driver: 'local', Labels: labels, Options: options, CreatedAt: rfc3339Seconds(new Date()) };
    const dir = path.join(this.root, name);
    try {
      mkdirSync(path.join(dir, '_data'), { recursive: true, mode: 0o755 });
      writeFileAtomic(path.join(dir, 'volume.json'), JSON.stringify(rec, null, 2));
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw wrap(err, `create ${name}`);
    }
    this.records.set(name, rec);
    return this.view(rec);
  }

  /** Removes a volume no container references (`force`: a missing volume is not an error). */
  async remove(name: string, force = false): Promise<void> {
    const rec = this.records.get(name);
    if (!rec) {
      if (force) return;
      throw new NotFoundError(`get ${name}: no such volume`);
    }
    const users = this.usedBy(name);
    if (users.length) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    const dir = path.join(this.root, name);
    await unmountLocal(this.dataPath(name));
    // Out of sight first (a crash mid-way leaves no half volume under its name), then the data.
    const doomed = path.join(this.root, `.removing-${name}-${randomBytes(4).toString('hex')}`);
    renameSync(dir, doomed);
    this.records.delete(name);
    this.holders.delete(name);
    rmSync(doomed, { recursive: true, force: true });
  }

  /** Removes unused volumes (anonymous ones only unless `all`) that `filter` accepts; returns names and bytes freed. */
  async prune(filter: (v: VolumeRecord) => boolean, all: boolean): Promise<{ names: string[]; bytes: number }> {
    const names: string[] = [];
    let bytes = 0;
    for (const rec of [...this.records.values()]) {
      if (!all && !Object.hasOwn(rec.Labels, ANONYMOUS_LABEL)) continue;
      if (this.usedBy(rec.Name).length || !filter(structuredClone(rec))) continue;
      const size = await diskUsage(this.dataPath(rec.Name)).catch(() => 0);
      await this.remove(rec.Name);
      names.push(rec.Name);
      bytes += size;
    }
    return { names, bytes };
  }

  /** A running container starts using the volume: mounts its filesystem if it has one and nobody held it. */
  async acquire(name: string, containerId: string): Promise<string> {
    const rec = this.get(name);
    const set = this.holders.get(name) ?? new Set<string>();
    const target = this.dataPath(name);
    if (needsMount(rec.Options) && set.size === 0 && !isMountPoint(target)) {
      mkdirSync(target, { recursive: true });
      await mountLocal(rec.Options, target).catch((err: unknown) => {
        throw wrap(err, `error while mounting volume '${target}'`);
      });
    }
    set.add(containerId);
    this.holders.set(name, set);
    return target;
  }

  /** A container stopped using the volume; the last one out unmounts its filesystem. */
  async releaseHold(name: string, containerId: string): Promise<void> {
    const set = this.holders.get(name);
    if (!set) return;
    set.delete(containerId);
    if (set.size > 0) return;
    this.holders.delete(name);
    const rec = this.records.get(name);
    if (rec && needsMount(rec.Options)) await unmountLocal(this.dataPath(name));
  }

  /** After a restart: the running containers holding volumes (their mounts are still in place). */
  restoreHold(name: string, containerId: string): void {
    if (!this.records.has(name)) return;
    const set = this.holders.get(name) ?? new Set<string>();
    set.add(containerId);
    this.holders.set(name, set);
  }

  /** Copies `source` (the image's content at the mount point) into the volume if the volume is empty. */
  async copyUp(name: string, source: string): Promise<boolean> {
    const target = this.dataPath(name);
    if (!existsSync(source) || !statSync(source).isDirectory() || readdirSync(target).length > 0) return false;
    if (readdirSync(source).length === 0) return false;
    await new Promise<void>((resolve, reject) => {
      const child = spawn('cp', ['-a', `${source}/.`, `${target}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve() : reject(new InternalError(`copy image content into volume ${name}: ${err.trim()}`))));
    });
    // The volume's root takes the ownership and mode of the image's directory, as Docker copies them.
    const st = statSync(source);
    chownSync(target, st.uid, st.gid);
    chmodSync(target, st.mode & 0o7777);
    return true;
  }

  async usage(name: string): Promise<number> {
    return diskUsage(this.dataPath(name));
  }

  private get(name: string): VolumeRecord {
    const rec = this.records.get(name);
    if (!rec) throw new NotFoundError(`get ${name}: no such volume`);
    return rec;
  }

  private view(r: VolumeRecord): Volume {
    return {
      CreatedAt: r.CreatedAt, Driver: r.Driver, Labels: { ...r.Labels }, Mountpoint: this.dataPath(r.Name), Name: r.Name,
      Options: Object.keys(r.Options).length ? { ...r.Options } : null, Scope: 'local',
    };
  }
}

/** Docker prints volume times as RFC 3339 with seconds and the local offset (`2024-05-01T10:00:00Z` in UTC). */
function rfc3339Seconds(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/** Bytes in the volume's files, as Docker counts them (directories themselves count nothing). */
function diskUsage(dir: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('find', [dir, '!', '-type', 'd', '-printf', '%s\\n'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let total = 0;
    let rest = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) total += Number(l) || 0;
    });
    child.once('error', () => resolve(0));
    child.once('close', () => resolve(total + (Number(rest) || 0)));
  });
}
