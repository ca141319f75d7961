/**
 * Image endpoints. Names may hold slashes and colons (`/images/127.0.0.1:5000/busybox/json`), so the routes
 * under `/images/` take the rest of the path and split off the action at its end.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { bodyStream, parseFilters, qbool, qint, qs, queryOf, readJson, registryAuth } from '../api/query.ts';
import type { Engine } from '../engine.ts';
import { errorMessage, replySink } from '../images/progress.ts';
import { IMAGE_FILTERS } from '../images/service.ts';

function all(q: Record<string, string | string[] | undefined>, name: string): string[] {
  const v = q[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

async function sendTar(reply: FastifyReply, stream: NodeJS.ReadableStream & { destroy(): void }): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  res.on('close', () => stream.destroy());
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

export function imageRoutes(app: FastifyInstance, engine: Engine): void {
  const images = engine.images;

  app.get('/images/json', async (request) => {
    const q = queryOf(request);
    return images.list({
      all: qbool(q, 'all'), filters: parseFilters(qs(q, 'filters'), IMAGE_FILTERS), digests: qbool(q, 'digests'), sharedSize: qbool(q, 'shared-size'),
    });
  });

  app.post('/images/create', async (request, reply) => {
    const q = queryOf(request);
    const fromImage = qs(q, 'fromImage');
    const fromSrc = qs(q, 'fromSrc');
    if (fromImage) {
      const sink = replySink(reply);
      try {
        await images.pull(fromImage, qs(q, 'tag'), { ...(qs(q, 'platform') ? { platform: qs(q, 'platform')! } : {}), auth: registryAuth(request) ?? {} }, sink);
      } finally {
        sink.end();
      }
      return;
    }
    if (fromSrc) {
      const body = fromSrc === '-' ? bodyStream(request) : await download(fromSrc);
      if (!body) throw new InvalidArgumentError('import: no tarball in the request body');
      const sink = replySink(reply);
      try {
        const id = await engine.archives.importTar(body, {
          ...(qs(q, 'repo') ? { repo: qs(q, 'repo')! } : {}), ...(qs(q, 'tag') ? { tag: qs(q, 'tag')! } : {}),
          changes: all(q, 'changes'), ...(qs(q, 'message') ? { message: qs(q, 'message')! } : {}),
        });
        engine.events.emit('image', 'import', id, { name: qs(q, 'repo') ?? id });
        sink.write({ status: id });
      } catch (err) {
        if (!sink.started) throw err;
        sink.write(errorMessage(err));
      } finally {
        sink.end();
      }
      return;
    }
    throw new InvalidArgumentError('either fromImage or fromSrc is required');
  });

  app.get('/images/search', async (request) => {
    const q = queryOf(request);
    const term = qs(q, 'term');
    if (!term) throw new InvalidArgumentError('term is required');
    const f = parseFilters(qs(q, 'filters'), ['is-automated', 'is-official', 'stars']);
    let results = await engine.archives.search(term, qint(q, 'limit'), registryAuth(request)) as { star_count: number; is_official: boolean; is_automated: boolean }[];
    const stars = f.get('stars')?.[0];
    if (stars) results = results.filter((r) => r.star_count >= Number(stars));
    const off = f.get('is-official')?.[0];
    if (off) results = results.filter((r) => r.is_official === (off === 'true'));
    return results;
  });

  app.post('/images/load', async (request, reply) => {
    const body = bodyStream(request);
    if (!body) throw new InvalidArgumentError('load: no archive in the request body');
    const lines = await engine.archives.load(body);
    for (const l of lines) engine.events.emit('image', 'load', l.replace(/^Loaded image( ID)?: /, ''), {});
    reply.header('Content-Type', 'application/json');
    return reply.send(lines.map((l) => JSON.stringify({ stream: `${l}\n` })).join('\r\n') + '\r\n');
  });

  app.get('/images/get', async (request, reply) => {
    const names = all(queryOf(request), 'names');
    await sendTar(reply, await engine.archives.save(names));
  });

  app.post('/images/prune', async (request) => images.prune(parseFilters(qs(queryOf(request), 'filters'))));

  const split = (request: FastifyRequest, actions: string[]): { name: string; action: string } => {
    const rest = (request.params as Record<string, string>)['*'] ?? '';
    for (const a of actions) {
      if (rest.endsWith(`/${a}`)) return { name: rest.slice(0, -a.length - 1), action: a };
    }
    return { name: rest, action: '' };
  };

  app.get('/images/*', async (request, reply) => {
    const { name, action } = split(request, ['json', 'history', 'get']);
    if (!name) throw new NotFoundError('page not found');
    switch (action) {
      case 'json':
        return images.inspect(name);
      case 'history':
        return images.history(name);
      case 'get':
        await sendTar(reply, await engine.archives.save([name]));
        return;
      default:
        throw new NotFoundError('page not found');
    }
  });

  app.post('/images/*', async (request, reply) => {
    const { name, action } = split(request, ['push', 'tag']);
    const q = queryOf(request);
    if (action === 'tag') {
      await images.tag(name, qs(q, 'repo') ?? '', qs(q, 'tag'));
      return reply.code(201).send();
    }
    if (action === 'push') {
      const sink = replySink(reply);
      try {
        await images.push(name, qs(q, 'tag'), registryAuth(request), sink);
      } finally {
        sink.end();
      }
      return;
    }
    throw new NotFoundError('page not found');
  });

  app.delete('/images/*', async (request) => {
    const name = (request.params as Record<string, string>)['*'] ?? '';
    const q = queryOf(request);
    return images.remove(name, { force: qbool(q, 'force'), noprune: qbool(q, 'noprune') });
  });

  app.post('/commit', async (request, reply) => {
    const q = queryOf(request);
    const ref = qs(q, 'container');
    if (!ref) throw new InvalidArgumentError('container is required');
    const c = engine.containers.get(ref);
    const body = await readJson(request);
    const id = await engine.archives.commit(c, {
      ...(qs(q, 'repo') ? { repo: qs(q, 'repo')! } : {}), ...(qs(q, 'tag') ? { tag: qs(q, 'tag')! } : {}),
      ...(qs(q, 'comment') ? { comment: qs(q, 'comment')! } : {}), ...(qs(q, 'author') ? { author: qs(q, 'author')! } : {}),
      pause: qbool(q, 'pause', true), changes: all(q, 'changes'),
      ...(body && typeof body === 'object' && !Array.isArray(body) ? { config: body as Record<string, unknown> } : {}),
    });
    engine.containers.emit(c, 'commit', { comment: qs(q, 'comment') ?? '' });
    return reply.code(201).send({ Id: id });
  });
}

/** `docker import <url>`: the tarball from an http(s) URL (no scheme: http, as dockerd). */
async function download(src: string): Promise<Readable> {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(src) ? src : `http://${src}`);
  } catch {
    throw new InvalidArgumentError(`import: invalid source URL ${src}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`import: unsupported URL scheme ${url.protocol} in ${src}`);
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    throw new InvalidArgumentError(`Get "${url.href}": ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new InvalidArgumentError(`failed to GET ${url.href} with status ${res.status} ${res.statusText}`);
  }
  return Readable.fromWeb(res.body as WebReadableStream);
}
