/** Container endpoints. */
import type { FastifyInstance } from 'fastify';
import { ConflictError, InvalidArgumentError, NotImplementedError } from '@berth/errdefs';
import { servePlain, type HijackHandler } from '../api/hijack.ts';
import { bodyStream, parseFilters, qbool, qint, qs, queryOf, readJson, readJsonObject } from '../api/query.ts';
import { apiVersionOf } from '../api/version.ts';
import { archiveGet, archiveHead, archivePut } from '../containers/archive.ts';
import { attachContainer } from '../containers/attach.ts';
import { containerChanges, exportContainer } from '../containers/changes.ts';
import { containerLogs } from '../containers/logs.ts';
import { pruneContainers } from '../containers/prune.ts';
import { containerStats } from '../containers/stats.ts';
import { containerTop } from '../containers/top.ts';
import { inspectContainer, listContainers, parseWaitCondition } from '../containers/views.ts';
import type { Engine } from '../engine.ts';

type P = { id: string };

export function containerRoutes(app: FastifyInstance, engine: Engine): void {
  const cm = engine.containers;

  app.get('/containers/json', async (request) => {
    const q = queryOf(request);
    return listContainers(engine, {
      all: qbool(q, 'all'), limit: qint(q, 'limit') ?? -1, size: qbool(q, 'size'), ...(qs(q, 'filters') ? { filters: qs(q, 'filters')! } : {}),
    });
  });

  app.post('/containers/create', async (request, reply) => {
    const q = queryOf(request);
    const body = await readJson(request);
    const res = await cm.create(body, { ...(qs(q, 'name') ? { name: qs(q, 'name')! } : {}), ...(qs(q, 'platform') ? { platform: qs(q, 'platform')! } : {}) });
    return reply.code(201).send(res);
  });

  app.get<{ Params: P }>('/containers/:id/json', async (request) => inspectContainer(engine, cm.get(request.params.id), qbool(queryOf(request), 'size')));

  app.post<{ Params: P }>('/containers/:id/start', async (request, reply) => {
    const q = queryOf(request);
    if (qs(q, 'checkpoint')) throw new NotImplementedError('checkpoints are not supported');
    // API < 1.24 sent a HostConfig here; 1.24+ must not.
    const body = await readJson(request);
    if (body && typeof body === 'object' && Object.keys(body).length > 0) {
      throw new InvalidArgumentError('starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24');
    }
    await cm.start(request.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/stop', async (request, reply) => {
    const q = queryOf(request);
    const t = qint(q, 't');
    await cm.stop(request.params.id, { ...(t !== undefined ? { timeout: t } : {}), ...(qs(q, 'signal') ? { signal: qs(q, 'signal')! } : {}) });
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/restart', async (request, reply) => {
    const q = queryOf(request);
    const t = qint(q, 't');
    await cm.restart(request.params.id, { ...(t !== undefined ? { timeout: t } : {}), ...(qs(q, 'signal') ? { signal: qs(q, 'signal')! } : {}) });
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/kill', async (request, reply) => {
    await cm.kill(request.params.id, qs(queryOf(request), 'signal'));
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/pause', async (request, reply) => {
    await cm.pause(request.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/unpause', async (request, reply) => {
    await cm.unpause(request.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/rename', async (request, reply) => {
    await cm.rename(request.params.id, qs(queryOf(request), 'name') ?? '');
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/update', async (request) => {
    const body = await readJsonObject(request);
    return { Warnings: await cm.update(request.params.id, body) };
  });

  app.post<{ Params: P }>('/containers/:id/resize', async (request, reply) => {
    const q = queryOf(request);
    const c = cm.get(request.params.id);
    const h = qint(q, 'h') ?? 0;
    const w = qint(q, 'w') ?? 0;
    if (h < 0 || w < 0) throw new InvalidArgumentError('invalid height or width');
    if (!c.hasTask) throw new ConflictError(`Container ${c.id} is not running`);
    await engine.rt.tasks.resizePty(c.id, w, h);
    engine.containers.emit(c, 'resize', { height: String(h), width: String(w) });
    return reply.code(200).send();
  });

  // Flushes its 200 headers at once: the docker CLI waits for them before it calls start.
  app.post<{ Params: P }>('/containers/:id/wait', async (request, reply) => {
    const q = queryOf(request);
    const condition = parseWaitCondition(qs(q, 'condition'));
    const waiting = cm.waitFor(request.params.id, condition);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': apiVersionOf(request.raw) });
    res.flushHeaders();
    const e = await waiting;
    if (!res.writableEnded && !res.destroyed) {
      res.end(JSON.stringify({ StatusCode: e.exitCode, ...(e.error ? { Error: { Message: e.error } } : {}) }) + '\n');
    }
  });

  app.delete<{ Params: P }>('/containers/:id', async (request, reply) => {
    const q = queryOf(request);
    if (qbool(q, 'link')) throw new InvalidArgumentError('legacy links are not supported');
    await cm.remove(request.params.id, { force: qbool(q, 'force'), volumes: qbool(q, 'v') });
    return reply.code(204).send();
  });

  app.get<{ Params: P }>('/containers/:id/top', async (request) => containerTop(engine, cm.get(request.params.id), qs(queryOf(request), 'ps_args')));

  app.get<{ Params: P }>('/containers/:id/logs', async (request, reply) => containerLogs(engine, cm.get(request.params.id), request, reply));

  app.get<{ Params: P }>('/containers/:id/stats', async (request, reply) => containerStats(engine, cm.get(request.params.id), request, reply));

  app.get<{ Params: P }>('/containers/:id/changes', async (request) => containerChanges(engine, cm.get(request.params.id)));

  app.get<{ Params: P }>('/containers/:id/export', async (request, reply) => exportContainer(engine, cm.get(request.params.id), reply));

  app.head<{ Params: P }>('/containers/:id/archive', async (request, reply) => archiveHead(engine, cm.get(request.params.id), qs(queryOf(request), 'path'), reply));
  app.get<{ Params: P }>('/containers/:id/archive', { exposeHeadRoute: false }, async (request, reply) => archiveGet(engine, cm.get(request.params.id), qs(queryOf(request), 'path'), reply));
  app.put<{ Params: P }>('/containers/:id/archive', async (request, reply) => {
    const q = queryOf(request);
    await archivePut(engine, cm.get(request.params.id), qs(q, 'path'), bodyStream(request), {
      noOverwriteDirNonDir: qbool(q, 'noOverwriteDirNonDir'), copyUIDGID: qbool(q, 'copyUIDGID'),
    });
    return reply.code(200).send();
  });

  app.post('/containers/prune', async (request) => pruneContainers(engine, parseFilters(qs(queryOf(request), 'filters'))));

  // Attach: upgraded (hijacked) or a plain streaming response.
  const attach: HijackHandler = (req, conn) => attachContainer(engine, req, conn);
  engine.hijack.add('POST', '/containers/:id/attach', attach);
  app.post('/containers/:id/attach', (request, reply) => servePlain(attach, request, reply));
  // Websocket attach (RFC 6455 upgrade): the streams are never multiplexed, as with dockerd.
  engine.hijack.add('GET', '/containers/:id/attach/ws', (req, conn) => attachContainer(engine, req, conn, { raw: true }), { websocket: true });
  app.get('/containers/:id/attach/ws', async () => {
    throw new InvalidArgumentError('a websocket upgrade is required (Connection: Upgrade, Upgrade: websocket)');
  });
}
