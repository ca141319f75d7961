/** Containers service: container records (the task is separate). */
import { addService, serverStream, unary, type Container, type FieldMask, type ServerHooks, type GrpcServer } from '@berth/containerd-api';
import { FailedPreconditionError } from '@berth/errdefs';
import type { Context } from '../context.ts';
import { containerRefs } from '../gc.ts';

/** `hasTask`: a container whose task still exists is not deleted (its rootfs snapshot is mounted). */
export function addContainersService(
  server: GrpcServer, ctx: Context, hasTask: (ns: string, id: string) => boolean, hooks: ServerHooks,
): void {
  addService(server, 'containerd.services.containers.v1.Containers', {
    Get: unary((req: { id: string }, call) => ({ container: ctx.containers.get(call.namespace(), req.id) })),
    List: unary((req: { filters: string[] }, call) => ({ containers: ctx.containers.list(call.namespace(), req.filters) })),
    ListStream: serverStream(async (req: { filters: string[] }, call, send) => {
      for (const container of ctx.containers.list(call.namespace(), req.filters)) await send({ container });
    }),
    Create: unary((req: { container: Container }, call) => {
      const ns = call.namespace();
      ctx.namespaces.ensure(ns);
      const container = ctx.containers.create(ns, req.container);
      ctx.events.emit(ns, '/containers/create', { id: container.id, image: container.image, runtime: container.runtime });
      return { container };
    }),
    Update: unary((req: { container: Container; updateMask: FieldMask | null }, call) => {
      const ns = call.namespace();
      const container = ctx.containers.update(ns, req.container, req.updateMask?.paths);
      ctx.events.emit(ns, '/containers/update', {
        id: container.id, image: container.image, labels: container.labels, snapshotKey: container.snapshotKey,
      });
      return { container };
    }),
    Delete: unary((req: { id: string }, call) => {
      const ns = call.namespace();
      if (hasTask(ns, req.id)) throw new FailedPreconditionError(`delete container ${req.id}: it has a task; delete the task first`);
      const held = containerRefs(ctx.containers.get(ns, req.id));
      ctx.containers.delete(ns, req.id);
      ctx.events.emit(ns, '/containers/delete', { id: req.id });
      ctx.gc.scheduleFor(ns, held);
      return {};
    }),
  }, hooks);
}
