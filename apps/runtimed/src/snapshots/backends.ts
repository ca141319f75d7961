/** Opens the snapshotters runtimed serves (@berth/snapshotter), each under `<root>/snapshots/<name>`. */
import path from 'node:path';
import type { Mount } from '@berth/containerd-api';
import { isUnavailable } from '@berth/errdefs';
import { openSnapshotter, type Snapshotter, type SnapshotterName } from '@berth/snapshotter';
import type { Logger } from 'pino';
import type { SnapshotBackend } from './manager.ts';

function toMounts(ms: Array<{ type: string; source: string; target?: string; options: string[] }>): Mount[] {
  return ms.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: m.options }));
}

/** Adapts a Snapshotter to the backend interface (empty parent = none). */
export function snapshotBackend(sn: Snapshotter): SnapshotBackend & { close(): Promise<void> } {
  return {
    prepare: async (key, parent) => toMounts(await sn.prepare(key, parent || undefined)),
    view: async (key, parent) => toMounts(await sn.view(key, parent || undefined)),
    mounts: async (key) => toMounts(await sn.mounts(key)),
    commit: (name, key, parent) => sn.commit(name, key, parent ? { parent } : {}),
    remove: (key) => sn.remove(key),
    usage: (key) => sn.usage(key),
    close: () => sn.close(),
    whiteoutTemplate: (sn as { whiteoutTemplate?: string }).whiteoutTemplate,
    capabilities: sn.capabilities,
  };
}

/** overlayfs (when the kernel supports it under the root) and native. */
export async function openBackends(root: string, log: Logger): Promise<Map<string, SnapshotBackend & { close(): Promise<void> }>> {
  const out = new Map<string, SnapshotBackend & { close(): Promise<void> }>();
  for (const name of ['overlayfs', 'native'] as SnapshotterName[]) {
    try {
      out.set(name, snapshotBackend(await openSnapshotter(name, path.join(root, 'snapshots', name))));
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      log.warn({ snapshotter: name, err }, `snapshotter ${name} unavailable: ${(err as Error).message}`);
    }
  }
  return out;
}
