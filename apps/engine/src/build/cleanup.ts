/**
 * What a berthd that stopped in the middle of a build left behind — RUN containers and their tasks, work
 * snapshots, build leases, mounts and scratch directories — removed before the first build of the next start.
 * Everything a build makes carries the `io.berth.build` label (or lives under `builder/` in the data and exec
 * roots), and the step cache's lease is kept.
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { RuntimedClient } from '@berth/containerd-api';
import { unmount } from '../containers/rootfs.ts';
import { BUILD_LABEL } from './runtimed-backend.ts';
import { CACHE_LEASE } from './step-cache.ts';

export interface CleanupDeps {
  rt: RuntimedClient;
  dataRoot: string;
  execRoot: string;
  snapshotter: string;
  log: FastifyBaseLogger;
}

export async function cleanupBuilds(deps: CleanupDeps): Promise<void> {
  const { rt, log } = deps;
  const runDir = path.join(deps.execRoot, 'builder');
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${runDir}/`)).sort((a, b) => b.length - a.length);
  for (const m of mounts) await unmount(m.replace(/\\040/g, ' '));
  let removed = 0;
  for (const c of await rt.containers.list()) {
    if (!c.labels[BUILD_LABEL]) continue;
    // The task may still be coming up (berthd died during Tasks/Create): try a few times.
    for (let attempt = 0; ; attempt++) {
      await rt.tasks.kill(c.id, 9, { all: true }).catch(() => undefined);
      await rt.tasks.delete(c.id).catch(() => undefined);
      try {
        await rt.containers.delete(c.id);
        break;
      } catch (err) {
        if (attempt >= 10) {
          log.warn({ err, containerId: c.id }, 'build cleanup: removing a RUN container failed');
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    removed++;
  }
  for (const s of await rt.snapshots.list([], deps.snapshotter)) {
    if (s.kind !== 'ACTIVE' && s.kind !== 'VIEW') continue;
    if (!s.labels[BUILD_LABEL]) continue;
    await rt.snapshots.remove(s.name, deps.snapshotter).catch((err: unknown) => log.warn({ err, key: s.name }, 'build cleanup: snapshot'));
    removed++;
  }
  for (const l of await rt.leases.list()) {
    if (l.id === CACHE_LEASE || !l.labels[BUILD_LABEL]) continue;
    await rt.leases.delete(l.id).catch((err: unknown) => log.warn({ err, lease: l.id }, 'build cleanup: lease'));
    removed++;
  }
  for (const dir of [runDir, path.join(deps.dataRoot, 'builder', 'tmp')]) {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) rmSync(path.join(dir, e), { recursive: true, force: true });
    removed += entries.length;
  }
  if (removed > 0) log.info({ removed }, 'removed what interrupted builds left behind');
}
