/** Events service: Publish and Forward from clients, Subscribe streams matching envelopes until cancelled. */
import { addService, serverStream, unary, type Any, type Envelope, type ServerHooks, type GrpcServer } from '@berth/containerd-api';
import { InvalidArgumentError } from '@berth/errdefs';
import type { Context } from '../context.ts';

/** A subscriber this far behind is cut off (it would otherwise hold memory without bound). */
const MAX_BACKLOG = 10_000;

export function addEventsService(server: GrpcServer, ctx: Context, hooks: ServerHooks): void {
  addService(server, 'containerd.services.events.v1.Events', {
    Publish: unary((req: { topic: string; event: Any | null }, call) => {
      ctx.events.publish(call.namespace(), req.topic, req.event);
      return {};
    }),
    Forward: unary((req: { envelope: Envelope | null }) => {
      if (!req.envelope) throw new InvalidArgumentError('forward event: envelope must be set');
      ctx.events.forward(req.envelope);
      return {};
    }),
    Subscribe: serverStream(async (req: { filters: string[] }, call, send) => {
      const backlog: Envelope[] = [];
      let wake: (() => void) | undefined;
      let overflow = false;
      const stop = ctx.events.subscribe(req.filters, (env) => {
        if (backlog.length >= MAX_BACKLOG) overflow = true;
        else backlog.push(env);
        wake?.();
      });
      call.signal.addEventListener('abort', () => wake?.(), { once: true });
      try {
        while (!call.signal.aborted) {
          if (overflow) throw new InvalidArgumentError(`subscribe: subscriber fell more than ${MAX_BACKLOG} events behind`);
          const env = backlog.shift();
          if (env) {
            await send(env);
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      } finally {
        stop();
      }
    }),
  }, hooks);
}
