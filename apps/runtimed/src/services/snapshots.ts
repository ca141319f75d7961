/** Snapshots service over the namespaced SnapshotManager. */
import { addService, serverStream, unary, type FieldMask, type ServerHooks, type SnapshotInfo, type GrpcServer } from '@berth/containerd-api';
import type { Context } from '../context.ts';
import type { SnapshotManager } from '../snapshots/manager.ts';

interface KeyReq { snapshotter: string; key: string; parent: string; labels: Record<string, string> }
const LIST_BATCH = 100;

export function addSnapshotsService(server: GrpcServer, ctx: Context, snapshots: SnapshotManager, hooks: ServerHooks): void {
  const name = (s: string) => s || ctx.config.snapshotter;
  addService(server, 'containerd.services.snapshots.v1.Snapshots', {
    Prepare: unary(async (req: KeyReq, call) =>
      ({ mounts: await snapshots.prepare(call.namespace(), name(req.snapshotter), req.key, req.parent, req.labels ?? {}, call.lease) })),
    View: unary(async (req: KeyReq, call) =>
      ({ mounts: await snapshots.view(call.namespace(), name(req.snapshotter), req.key, req.parent, req.labels ?? {}, call.lease) })),
    Mounts: unary(async (req: KeyReq, call) => ({ mounts: await snapshots.mounts(call.namespace(), name(req.snapshotter), req.key) })),
    Commit: unary(async (req: { snapshotter: string; name: string; key: string; labels: Record<string, string> }, call) => {
      await snapshots.commit(call.namespace(), name(req.snapshotter), req.name, req.key, req.labels ?? {}, call.lease);
      return {};
    }),
    Remove: unary(async (req: KeyReq, call) => {
      await snapshots.remove(call.namespace(), name(req.snapshotter), req.key);
      return {};
    }),
    Stat: unary((req: KeyReq, call) => ({ info: snapshots.stat(call.namespace(), name(req.snapshotter), req.key) })),
    Update: unary((req: { snapshotter: string; info: SnapshotInfo; updateMask: FieldMask | null }, call) =>
      ({ info: snapshots.update(call.namespace(), name(req.snapshotter), req.info, req.updateMask?.paths) })),
    List: serverStream(async (req: { snapshotter: string; filters: string[] }, call, send) => {
      const all = snapshots.list(call.namespace(), name(req.snapshotter), req.filters);
      for (let i = 0; i < all.length; i += LIST_BATCH) await send({ info: all.slice(i, i + LIST_BATCH) });
    }),
    Usage: unary((req: KeyReq, call) => snapshots.usage(call.namespace(), name(req.snapshotter), req.key)),
    Cleanup: unary(() => ({})),
  }, hooks);
}
