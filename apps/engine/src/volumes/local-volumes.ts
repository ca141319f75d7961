/**
 * The engine's `Volumes` on the local volume store: which containers reference which volumes (the basis of
 * Docker's "volume is in use" and of `dangling`), creation of a container's volumes at create, holding them while
 * it runs (with the copy-up of image content into a new empty volume), and `docker rm -v`.
 */
import type { MountRecord } from '../containers/record.ts';
import type { ExtensionHost, ResolvedVolume, Volumes } from '../extensions.ts';
import { attachVolumes, removeAnonymousVolumes } from './container-mounts.ts';
import type { VolumeStore } from './volume-store.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '@berth/errdefs';

export class LocalVolumes implements Volumes {
  readonly store: VolumeStore;
  private readonly host: ExtensionHost;
  /** container id → the volumes its mounts name. */
  private readonly refs = new Map<string, Set<string>>();

  constructor(host: ExtensionHost, store: VolumeStore) {
    this.host = host;
    this.store = store;
  }

  /** The containers whose mounts name `volume`. */
  usedBy(volume: string): string[] {
    return [...this.refs].filter(([, names]) => names.has(volume)).map(([id]) => id);
  }

  async prepare(containerId: string, mounts: MountRecord[]): Promise<void> {
    const before = new Set(this.store.all().map((v) => v.Name));
    await attachVolumes(this.store, mounts);
    this.reference(containerId, mounts);
    for (const m of mounts) {
      if (m.Type === 'volume' && m.Name && !before.has(m.Name)) this.host.events.emit('volume', 'create', m.Name, { driver: 'local' });
    }
  }

  async mount(containerId: string, m: MountRecord, imageDir: () => Promise<string | undefined>): Promise<ResolvedVolume> {
    const name = m.Name!;
    const data = await this.store.acquire(name, containerId);
    if (m.CopyData !== false && !m.Subpath) {
      const src = await imageDir();
      if (src) await this.store.copyUp(name, src);
    }
    let source = data;
    if (m.Subpath) {
      source = path.join(data, m.Subpath);
      if (!source.startsWith(`${data}/`) || !existsSync(source)) {
        await this.store.releaseHold(name, containerId);
        throw new InvalidArgumentError(`cannot access path ${source}: subpath ${m.Subpath} does not exist in volume ${name}`);
      }
    }
    this.host.events.emit('volume', 'mount', name, {
      'container': containerId, 'destination': m.Destination, 'driver': 'local', 'propagation': m.Propagation ?? '', 'read/write': String(m.RW),
    });
    return { source };
  }

  async unmount(containerId: string, mounts: MountRecord[]): Promise<void> {
    for (const m of mounts) {
      if (m.Type !== 'volume' || !m.Name) continue;
      await this.store.releaseHold(m.Name, containerId);
      this.host.events.emit('volume', 'unmount', m.Name, { container: containerId, driver: 'local' });
    }
  }

  async release(containerId: string, mounts: MountRecord[], opts: { removeAnonymous: boolean }): Promise<void> {
    this.refs.delete(containerId);
    if (!opts.removeAnonymous) return;
    for (const name of await removeAnonymousVolumes(this.store, mounts)) {
      this.host.events.emit('volume', 'destroy', name, { driver: 'local' });
    }
  }

  async restore(containerId: string, mounts: MountRecord[]): Promise<void> {
    this.reference(containerId, mounts);
    let running = false;
    try {
      running = this.host.container(containerId).running;
    } catch { /* gone */ }
    if (!running) return;
    for (const m of mounts) if (m.Type === 'volume' && m.Name) this.store.restoreHold(m.Name, containerId);
  }

  async usage(): Promise<unknown[]> {
    const out: unknown[] = [];
    for (const v of this.store.list()) {
      out.push({ ...v, UsageData: { Size: await this.store.usage(v.Name).catch(() => -1), RefCount: this.usedBy(v.Name).length } });
    }
    return out;
  }

  private reference(containerId: string, mounts: MountRecord[]): void {
    const names = new Set(mounts.filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name!));
    if (names.size) this.refs.set(containerId, names);
  }
}
