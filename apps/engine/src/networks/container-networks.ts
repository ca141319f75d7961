/**
 * Which networks a container is configured for, as Docker keeps it: the networks given at create
 * (`NetworkMode` and `NetworkingConfig.EndpointsConfig`, in the engine's record) changed by later
 * `docker network connect/disconnect` (kept here, one small JSON file per container, because the engine's record
 * is the engine's). The result is keyed by network name, as `NetworkSettings.Networks` is.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { EndpointSettings } from '@berth/docker-api';
import { writeAtomic } from '../containers/store.ts';
import type { ContainerView } from '../extensions.ts';

interface Overlay {
  added: Record<string, EndpointSettings>;
  removed: string[];
}

export function modeOf(networkMode: string | undefined): string {
  return !networkMode || networkMode === 'default' ? 'bridge' : networkMode;
}

/** Modes that are not networks a container is attached to by name. */
export function isSpecialMode(mode: string): boolean {
  return mode === 'host' || mode === 'none' || mode.startsWith('container:');
}

export class ContainerNetworks {
  private readonly dir: string;
  private readonly cache = new Map<string, Overlay>();

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** The configured networks of a bridge-mode container, mode network first: name (as given) → settings. */
  configured(c: ContainerView): Record<string, EndpointSettings> {
    const mode = modeOf(c.hostConfig.NetworkMode);
    if (isSpecialMode(mode)) return {};
    const o = this.read(c.id);
    const out: Record<string, EndpointSettings> = { [mode]: c.endpointsConfig[mode] ?? {} };
    for (const [name, s] of Object.entries(c.endpointsConfig)) if (!(name in out)) out[name] = s;
    for (const [name, s] of Object.entries(o.added)) out[name] = { ...s };
    for (const name of o.removed) delete out[name];
    return out;
  }

  connected(c: ContainerView, network: string, settings: EndpointSettings): void {
    const o = copyOf(this.read(c.id));
    o.added[network] = settings;
    o.removed = o.removed.filter((n) => n !== network);
    this.write(c.id, o);
  }

  disconnected(c: ContainerView, network: string): void {
    const o = copyOf(this.read(c.id));
    delete o.added[network];
    if (!o.removed.includes(network)) o.removed.push(network);
    this.write(c.id, o);
  }

  /** The container is gone. */
  forget(containerId: string): void {
    rmSync(this.file(containerId), { force: true });
    this.cache.delete(containerId);
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  /**
   * Read once per container and kept (inspect and `ps` ask for every container). The cached object is shared:
   * callers only read it (changes go through copyOf and write), so no per-call deep copy is needed on the hot path.
   */
  private read(id: string): Readonly<Overlay> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const f = this.file(id);
    let o: Overlay = { added: {}, removed: [] };
    if (existsSync(f)) {
      try {
        o = JSON.parse(readFileSync(f, 'utf8')) as Overlay;
      } catch { /* unreadable: as if none */ }
    }
    this.cache.set(id, o);
    return o;
  }

  private write(id: string, o: Overlay): void {
    writeAtomic(this.file(id), JSON.stringify(o), 0o600);
    this.cache.set(id, o);
  }
}

function copyOf(o: Readonly<Overlay>): Overlay {
  return { added: { ...o.added }, removed: [...o.removed] };
}
