/** Namespaces service. */
import { addService, unary, validateNamespace, type FieldMask, type Namespace, type ServerHooks, type GrpcServer } from '@berth/containerd-api';
import type { Context } from '../context.ts';
import { validateLabels } from '../metadata/labels.ts';

export function addNamespacesService(server: GrpcServer, ctx: Context, hooks: ServerHooks): void {
  addService(server, 'containerd.services.namespaces.v1.Namespaces', {
    Get: unary((req: { name: string }) => ({ namespace: ctx.namespaces.get(req.name) })),
    List: unary(() => ({ namespaces: ctx.namespaces.list() })),
    Create: unary((req: { namespace: Namespace }) => {
      const name = validateNamespace(req.namespace.name);
      const ns = ctx.namespaces.create(name, validateLabels(req.namespace.labels ?? {}, `namespace ${name}`));
      ctx.events.emit(name, '/namespaces/create', { name, labels: ns.labels });
      return { namespace: ns };
    }),
    Update: unary((req: { namespace: Namespace; updateMask: FieldMask | null }) => {
      const ns = ctx.namespaces.update(req.namespace.name, validateLabels(req.namespace.labels ?? {}, `namespace ${req.namespace.name}`),
        req.updateMask?.paths);
      ctx.events.emit(ns.name, '/namespaces/update', { name: ns.name, labels: ns.labels });
      return { namespace: ns };
    }),
    Delete: unary((req: { name: string }) => {
      ctx.namespaces.delete(req.name);
      ctx.events.emit(req.name, '/namespaces/delete', { name: req.name });
      return {};
    }),
  }, hooks);
}
