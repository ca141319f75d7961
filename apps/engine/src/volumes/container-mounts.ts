/**
 * A container's volume mounts at create and at removal: anonymous volumes get their random names and named
 * volumes that do not exist yet are made (as Docker does); `rm -v` removes the anonymous ones.
 */
import { existsSync } from 'node:fs';
import { InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import type { MountRecord } from '../containers/record.ts';
import type { VolumeStore } from './volume-store.ts';

/**
 * At container create: names anonymous volumes, creates missing named ones, fills in each volume mount's
 * `Name`/`Source`, and checks `--mount` bind sources. On failure the volumes it created are removed again.
 */
export async function attachVolumes(store: VolumeStore, mounts: MountRecord[]): Promise<void> {
  const created: string[] = [];
  try {
    for (const m of mounts) {
      if (m.Type === 'bind' && m.FromMountApi && !existsSync(m.Source)) {
        throw new InvalidArgumentError(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
      }
      if (m.Type !== 'volume') continue;
      if (m.Driver && m.Driver !== 'local') throw new NotFoundError(`error looking up volume plugin ${m.Driver}: plugin "${m.Driver}" not found`);
      const existed = !!m.Name && store.has(m.Name);
      const v = store.create({ Name: m.Name ?? '' }, { anonymous: !m.Name });
      if (!existed) created.push(v.Name);
      m.Name = v.Name;
      m.Driver = 'local';
      m.Source = v.Mountpoint;
    }
  } catch (err) {
    for (const name of created) await store.remove(name, true).catch(() => {});
    throw err;
  }
}

/** `docker rm -v`: removes the container's anonymous volumes that no other container references. */
export async function removeAnonymousVolumes(store: VolumeStore, mounts: MountRecord[]): Promise<string[]> {
  const removed: string[] = [];
  for (const m of mounts) {
    if (m.Type !== 'volume' || !m.Anonymous || !m.Name || !store.has(m.Name)) continue;
    try {
      await store.remove(m.Name);
      removed.push(m.Name);
    } catch {
      // Still referenced by another container (`--volumes-from`): kept, as Docker keeps it.
    }
  }
  return removed;
}
