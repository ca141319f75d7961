/** Version and Introspection: what ctr asks first (`ctr version`, `ctr plugins ls`). */
import { addService, unary, type ServerHooks, type GrpcServer } from '@berth/containerd-api';
import type { Context } from '../context.ts';
import { compileFilters } from '../metadata/filters.ts';

/** Speaks containerd 1.6's API; the suffix says which implementation. */
export const VERSION = 'v1.6.20-berth.0.1.0';
export const REVISION = 'berth';

const PLATFORM = { os: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch, variant: '' };

interface PluginDesc { type: string; id: string; requires?: string[]; platforms?: boolean; exports?: Record<string, string> }

function plugins(ctx: Context): PluginDesc[] {
  const grpcServices = ['containers', 'content', 'diff', 'events', 'images', 'introspection', 'leases', 'namespaces', 'snapshots', 'tasks', 'version'];
  return [
    { type: 'io.containerd.content.v1', id: 'content', exports: { root: `${ctx.config.root}/content` } },
    { type: 'io.containerd.snapshotter.v1', id: 'overlayfs', platforms: true, exports: { root: `${ctx.config.root}/snapshots/overlayfs` } },
    { type: 'io.containerd.snapshotter.v1', id: 'native', platforms: true, exports: { root: `${ctx.config.root}/snapshots/native` } },
    { type: 'io.containerd.metadata.v1', id: 'sqlite', requires: ['io.containerd.content.v1', 'io.containerd.snapshotter.v1'] },
    { type: 'io.containerd.differ.v1', id: 'walking', platforms: true, requires: ['io.containerd.content.v1'] },
    { type: 'io.containerd.event.v1', id: 'exchange' },
    { type: 'io.containerd.gc.v1', id: 'scheduler', requires: ['io.containerd.metadata.v1'] },
    { type: 'io.containerd.lease.v1', id: 'manager', requires: ['io.containerd.metadata.v1'] },
    { type: 'io.containerd.runtime.v2', id: 'task', platforms: true, exports: { root: `${ctx.config.state}/tasks`, shim: 'berth-shim' } },
    ...grpcServices.map((id) => ({ type: 'io.containerd.grpc.v1', id })),
    { type: 'io.berth.grpc.v1', id: 'jobs', requires: ['io.containerd.metadata.v1'] },
  ];
}

export function addVersionServices(server: GrpcServer, ctx: Context, hooks: ServerHooks): void {
  addService(server, 'containerd.services.version.v1.Version', {
    Version: unary(() => ({ version: VERSION, revision: REVISION })),
  }, hooks);
  addService(server, 'containerd.services.introspection.v1.Introspection', {
    Server: unary(() => ({ uuid: ctx.uuid })),
    Plugins: unary((req: { filters: string[] }) => {
      const match = compileFilters(req.filters);
      const list = plugins(ctx).filter((p) => match((f) => (f[0] === 'type' ? p.type : f[0] === 'id' ? p.id : undefined)));
      return {
        plugins: list.map((p) => ({
          type: p.type, id: p.id, requires: p.requires ?? [], platforms: p.platforms ? [PLATFORM] : [], exports: p.exports ?? {},
          capabilities: [], initErr: null,
        })),
      };
    }),
  }, hooks);
}
