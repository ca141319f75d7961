/** Leases service. */
import { addService, unary, type LeaseResource, type ServerHooks, type GrpcServer } from '@berth/containerd-api';
import type { Context } from '../context.ts';

export function addLeasesService(server: GrpcServer, ctx: Context, hooks: ServerHooks): void {
  addService(server, 'containerd.services.leases.v1.Leases', {
    Create: unary((req: { id: string; labels: Record<string, string> }, call) => {
      const ns = call.namespace();
      ctx.namespaces.ensure(ns);
      return { lease: ctx.leases.create(ns, req.id, req.labels ?? {}) };
    }),
    Delete: unary(async (req: { id: string; sync: boolean }, call) => {
      const ns = call.namespace();
      const held = ctx.leases.exists(ns, req.id) ? ctx.leases.resources(ns, req.id) : [];
      ctx.leases.delete(ns, req.id);
      if (req.sync) await ctx.gc.collect();
      else ctx.gc.scheduleFor(ns, held);
      return {};
    }),
    List: unary((req: { filters: string[] }, call) => ({ leases: ctx.leases.list(call.namespace(), req.filters) })),
    AddResource: unary((req: { id: string; resource: LeaseResource }, call) => {
      ctx.leases.addResource(call.namespace(), req.id, req.resource);
      return {};
    }),
    DeleteResource: unary((req: { id: string; resource: LeaseResource }, call) => {
      ctx.leases.deleteResource(call.namespace(), req.id, req.resource);
      ctx.gc.schedule();
      return {};
    }),
    ListResources: unary((req: { id: string }, call) => {
      const ns = call.namespace();
      ctx.leases.get(ns, req.id);
      return { resources: ctx.leases.resources(ns, req.id) };
    }),
  }, hooks);
}
