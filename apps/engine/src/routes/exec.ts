/** Exec endpoints: create, start (hijacked or plain), resize, inspect. */
import type { FastifyInstance } from 'fastify';
import { InvalidArgumentError } from '@berth/errdefs';
import { servePlain, type HijackHandler } from '../api/hijack.ts';
import { qint, queryOf, readJson } from '../api/query.ts';
import type { Engine } from '../engine.ts';

interface StartBody { Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null }

function startOptions(body: unknown): { detach: boolean; tty?: boolean; consoleSize?: [number, number] | null } {
  if (body === undefined || body === null) return { detach: false };
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('invalid JSON: expected an object');
  const b = body as StartBody;
  if (b.Detach !== undefined && typeof b.Detach !== 'boolean') throw new InvalidArgumentError('invalid JSON: Detach must be a boolean');
  if (b.Tty !== undefined && typeof b.Tty !== 'boolean') throw new InvalidArgumentError('invalid JSON: Tty must be a boolean');
  return {
    detach: b.Detach === true, ...(b.Tty !== undefined ? { tty: b.Tty } : {}), ...(b.ConsoleSize ? { consoleSize: b.ConsoleSize } : {}),
  };
}

export function execRoutes(app: FastifyInstance, engine: Engine): void {
  app.post<{ Params: { id: string } }>('/containers/:id/exec', async (request, reply) => {
    const body = await readJson(request);
    return reply.code(201).send(engine.execs.create(request.params.id, body));
  });

  const start: HijackHandler = async (req, conn) => {
    const opts = startOptions(req.body);
    const id = req.params.id!;
    engine.execs.get(id);
    if (opts.detach) {
      await engine.execs.start(id, opts);
      conn.begin('application/json');
      return;
    }
    await engine.execs.start(id, opts, conn, req.apiVersion);
  };
  engine.hijack.add('POST', '/exec/:id/start', start);
  app.post<{ Params: { id: string } }>('/exec/:id/start', async (request, reply) => {
    // Detached starts answer 200 without a stream; attached ones stream.
    const body = await readJson(request);
    const opts = startOptions(body);
    if (opts.detach) {
      await engine.execs.start(request.params.id, opts);
      return reply.code(200).send();
    }
    request.body = Buffer.from(JSON.stringify(body ?? {}));
    return servePlain(start, request, reply);
  });

  app.post<{ Params: { id: string } }>('/exec/:id/resize', async (request, reply) => {
    const q = queryOf(request);
    await engine.execs.resize(request.params.id, qint(q, 'h') ?? 0, qint(q, 'w') ?? 0);
    return reply.code(200).send();
  });

  app.get<{ Params: { id: string } }>('/exec/:id/json', async (request) => engine.execs.inspect(request.params.id));
}
