/**
 * `docker diff` and `docker export`, from the container's snapshot: the overlay upper dir is the change set;
 * a read-only view (the upper dir stacked as the top lower layer, so no work dir is shared with a running
 * container) is what `export` archives.
 */
import { lstatSync, mkdirSync, readdirSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { FastifyReply } from 'fastify';
import type { Mount as RtMount } from '@berth/containerd-api';
import type { ContainerChange } from '@berth/docker-api';
import type { Engine } from '../engine.ts';
import type { Container } from './container.ts';
import { layerDirs, mountSnapshot, unmount } from './rootfs.ts';

/** Paths berthd or the runtime create as mount points; not the user's changes. */
const MOUNTPOINTS = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/dev', '/proc', '/sys', '/.dockerenv', '/sbin/docker-init', '/dev/shm', '/dev/pts', '/dev/mqueue']);

function existsBelow(lowers: string[], rel: string): boolean {
  for (const l of lowers) {
    try {
      const st = lstatSync(path.join(l, rel));
      return !(st.isCharacterDevice() && st.rdev === 0);
    } catch {
      // not in this layer
    }
  }
  return false;
}

/** Changes in an overlay upper dir against its lower dirs (Kind 0 modified, 1 added, 2 deleted). */
export function overlayChanges(upper: string, lowers: string[], skip: Set<string>): ContainerChange[] {
  const out: ContainerChange[] = [];
  const walk = (rel: string): boolean => {
    let any = false;
    let entries: string[];
    try {
      entries = readdirSync(path.join(upper, rel)).sort();
    } catch {
      return false;
    }
    for (const name of entries) {
      const r = `${rel}/${name}`;
      let st: Stats;
      try {
        st = lstatSync(path.join(upper, r));
      } catch {
        continue;
      }
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ Path: r, Kind: 2 });
        any = true;
        continue;
      }
      const below = existsBelow(lowers, r);
      if (st.isDirectory()) {
        const at = out.length;
        const childChanged = walk(r);
        if (!below) {
          if (skip.has(r) && !childChanged) continue;
          out.splice(at, 0, { Path: r, Kind: 1 });
          any = true;
        } else if (childChanged) {
          out.splice(at, 0, { Path: r, Kind: 0 });
          any = true;
        }
        continue;
      }
      if (skip.has(r) && st.size === 0) continue;
      out.push({ Path: r, Kind: below ? 0 : 1 });
      any = true;
    }
    return any;
  };
  walk('');
  return out;
}

export async function containerChanges(engine: Engine, c: Container): Promise<ContainerChange[]> {
  const mounts = await engine.rt.snapshots.mounts(c.rec.SnapshotKey, c.rec.Snapshotter);
  const skip = new Set([...MOUNTPOINTS, ...c.rec.Mounts.map((m) => m.Destination)]);
  const dirs = layerDirs(mounts);
  if (mounts[0]?.type === 'overlay' && mounts[0].options.some((o) => o.startsWith('upperdir='))) {
    return overlayChanges(dirs[0]!, dirs.slice(1), skip);
  }
  // A native (full copy) snapshot: compare with a view of the image.
  const parent = (await engine.rt.snapshots.stat(c.rec.SnapshotKey, c.rec.Snapshotter)).parent;
  if (!parent) return overlayChanges(dirs[0]!, [], skip);
  const viewKey = `diff-${c.id}-${Date.now()}`;
  const view = await engine.rt.snapshots.view(viewKey, parent, { snapshotter: c.rec.Snapshotter });
  try {
    return treeChanges(layerDirs(view)[0]!, dirs[0]!, skip);
  } finally {
    await engine.rt.snapshots.remove(viewKey, c.rec.Snapshotter).catch(() => undefined);
  }
}

/** Changes of a full tree against its base (for snapshotters without an upper dir). */
export function treeChanges(lower: string, upper: string, skip: Set<string>): ContainerChange[] {
  const out: ContainerChange[] = [];
  const walk = (rel: string): boolean => {
    let any = false;
    const names = new Set<string>();
    for (const d of [lower, upper]) {
      try {
        for (const n of readdirSync(path.join(d, rel))) names.add(n);
      } catch {
        // absent on this side
      }
    }
    for (const name of [...names].sort()) {
      const r = `${rel}/${name}`;
      let a: Stats | undefined;
      let b: Stats | undefined;
      try {
        a = lstatSync(path.join(lower, r));
      } catch {
        a = undefined;
      }
      try {
        b = lstatSync(path.join(upper, r));
      } catch {
        b = undefined;
      }
      if (!b) {
        out.push({ Path: r, Kind: 2 });
        any = true;
        continue;
      }
      if (b.isDirectory()) {
        const at = out.length;
        const child = walk(r);
        if (!a) {
          if (skip.has(r) && !child) continue;
          out.splice(at, 0, { Path: r, Kind: 1 });
          any = true;
        } else if (child || a.mode !== b.mode || a.uid !== b.uid) {
          out.splice(at, 0, { Path: r, Kind: 0 });
          any = true;
        }
        continue;
      }
      if (skip.has(r) && b.size === 0) continue;
      if (!a) {
        out.push({ Path: r, Kind: 1 });
        any = true;
      } else if (a.size !== b.size || a.mtimeMs !== b.mtimeMs || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) {
        out.push({ Path: r, Kind: 0 });
        any = true;
      }
    }
    return any;
  };
  walk('');
  return out;
}

/** Mounts a read-only view of the container's filesystem (without its volumes) for the duration of `fn`. */
export async function withFilesystemView<T>(engine: Engine, c: Container, fn: (dir: string) => Promise<T>): Promise<T> {
  const mounts = await engine.rt.snapshots.mounts(c.rec.SnapshotKey, c.rec.Snapshotter);
  const view = viewMounts(mounts);
  const dir = path.join(engine.config.execRoot, 'containers', c.id, `view-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`);
  mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  await mountSnapshot(view, dir, true);
  try {
    return await fn(dir);
  } finally {
    await unmount(dir);
  }
}

/** An overlay's mounts as a read-only stack (upper on top of the lowers, no work dir). */
export function viewMounts(mounts: RtMount[]): RtMount[] {
  const m = mounts[0];
  if (!m || m.type !== 'overlay') return mounts;
  const dirs = layerDirs(mounts);
  if (dirs.length === 1) return [{ type: 'bind', source: dirs[0]!, target: '', options: ['rbind', 'ro'] }];
  return [{ type: 'overlay', source: 'overlay', target: '', options: [`lowerdir=${dirs.join(':')}`] }];
}

export async function exportContainer(engine: Engine, c: Container, reply: FastifyReply): Promise<void> {
  const { exportFilesystem } = await import('@berth/distribution');
  const mounts = await engine.rt.snapshots.mounts(c.rec.SnapshotKey, c.rec.Snapshotter);
  const view = viewMounts(mounts);
  const dir = path.join(engine.config.execRoot, 'containers', c.id, `export-${Date.now().toString(36)}`);
  mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  await mountSnapshot(view, dir, true);
  engine.containers.emit(c, 'export');
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  const tar = exportFilesystem(dir);
  const done = () => void unmount(dir);
  res.on('close', () => tar.destroy());
  tar.on('close', done);
  tar.on('error', (err) => {
    engine.log.warn({ containerId: c.id, err }, 'export failed');
    res.destroy();
  });
  tar.pipe(res);
}
