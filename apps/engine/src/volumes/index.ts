/**
 * The volumes extension of berthd: the `local` driver's named and anonymous volumes under
 * `<data-root>/volumes`, their use by containers, and the `/volumes` routes. Loaded by the engine through
 * `createExtension` (see ../extensions.ts).
 */
import path from 'node:path';
import type { EngineExtension, ExtensionHost } from '../extensions.ts';
import { LocalVolumes } from './local-volumes.ts';
import { volumeRoutes } from './routes.ts';
import { VolumeStore } from './volume-store.ts';

export async function createExtension(host: ExtensionHost): Promise<EngineExtension> {
  // The store asks who uses a volume; the answer is kept by LocalVolumes, made just after it.
  const users: { of?: (name: string) => string[] } = {};
  const store = new VolumeStore({ root: path.join(host.config.dataRoot, 'volumes'), usedBy: (name) => users.of?.(name) ?? [] }, host.log);
  const v = new LocalVolumes(host, store);
  users.of = (name) => v.usedBy(name);
  return {
    name: 'volumes',
    volumes: v,
    routes: (app) => volumeRoutes(app, host, v),
    info: () => ({ volumes: store.list().length }),
  };
}
