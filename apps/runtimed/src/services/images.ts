/** Images service: image records; deleting one schedules GC of what only it held. */
import { addService, unary, type FieldMask, type Image, type ServerHooks, type GrpcServer } from '@berth/containerd-api';
import type { Context } from '../context.ts';

export function addImagesService(server: GrpcServer, ctx: Context, hooks: ServerHooks): void {
  addService(server, 'containerd.services.images.v1.Images', {
    Get: unary((req: { name: string }, call) => ({ image: ctx.images.get(call.namespace(), req.name) })),
    List: unary((req: { filters: string[] }, call) => ({ images: ctx.images.list(call.namespace(), req.filters) })),
    Create: unary((req: { image: Image }, call) => {
      const ns = call.namespace();
      ctx.namespaces.ensure(ns);
      const image = ctx.images.create(ns, req.image);
      ctx.events.emit(ns, '/images/create', { name: image.name, labels: image.labels });
      return { image };
    }),
    Update: unary((req: { image: Image; updateMask: FieldMask | null }, call) => {
      const ns = call.namespace();
      const image = ctx.images.update(ns, req.image, req.updateMask?.paths);
      ctx.events.emit(ns, '/images/update', { name: image.name, labels: image.labels });
      ctx.gc.schedule();
      return { image };
    }),
    Delete: unary(async (req: { name: string; sync: boolean }, call) => {
      const ns = call.namespace();
      ctx.images.delete(ns, req.name);
      ctx.events.emit(ns, '/images/delete', { name: req.name });
      if (req.sync) await ctx.gc.collect();
      else ctx.gc.schedule();
      return {};
    }),
  }, hooks);
}
