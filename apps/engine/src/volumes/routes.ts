/** `docker volume` on the Engine API: list with filters, inspect, create, remove, prune. */
import type { FastifyInstance } from 'fastify';
import type { Volume, VolumeCreateRequest } from '@berth/docker-api';
import { InvalidArgumentError } from '@berth/errdefs';
import { matchLabels, parseFilters, qbool, qs, queryOf, readJsonObject } from '../api/query.ts';
import { apiVersionOf, versionAtLeast } from '../api/version.ts';
import type { ExtensionHost } from '../extensions.ts';
import type { LocalVolumes } from './local-volumes.ts';
import { ANONYMOUS_LABEL } from './volume-store.ts';

const LIST_FILTERS = ['dangling', 'driver', 'label', 'name'];
const PRUNE_FILTERS = ['label', 'label!', 'all'];

export function volumeRoutes(app: FastifyInstance, host: ExtensionHost, vols: LocalVolumes): void {
  const store = vols.store;

  app.get('/volumes', async (request) => {
    const f = parseFilters(qs(queryOf(request), 'filters'), LIST_FILTERS);
    const dangling = f.get('dangling')?.map((v) => {
      if (!['true', 'false', '1', '0'].includes(v)) throw new InvalidArgumentError(`invalid filter 'dangling=${v}'`);
      return v === 'true' || v === '1';
    });
    const out: Volume[] = [];
    for (const v of store.list()) {
      const used = vols.usedBy(v.Name).length > 0;
      if (dangling?.length && dangling.some((d) => d === used)) continue;
      if (!any(f.get('driver'), (x) => v.Driver === x)) continue;
      if (!any(f.get('name'), (x) => v.Name.includes(x))) continue;
      if (!matchLabels(f.get('label'), v.Labels)) continue;
      out.push(v);
    }
    return { Volumes: out, Warnings: null };
  });

  app.get('/volumes/:name', async (request) => {
    const { name } = request.params as { name: string };
    return store.inspect(name);
  });

  app.post('/volumes/create', async (request, reply) => {
    const body = await readJsonObject<VolumeCreateRequest>(request);
    for (const k of ['Name', 'Driver'] as const) {
      if (body[k] !== undefined && typeof body[k] !== 'string') throw new InvalidArgumentError(`invalid ${k}: expected a string`);
    }
    const existed = !!body.Name && store.has(body.Name);
    const v = store.create({
      ...(body.Name ? { Name: body.Name } : {}),
      ...(body.Driver ? { Driver: body.Driver } : {}),
      DriverOpts: strings(body.DriverOpts, 'DriverOpts'),
      Labels: strings(body.Labels, 'Labels'),
    });
    if (!existed) host.events.emit('volume', 'create', v.Name, { driver: v.Driver });
    return reply.code(201).send(v);
  });

  app.delete('/volumes/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    const existed = store.has(name);
    await store.remove(name, qbool(queryOf(request), 'force'));
    if (existed) host.events.emit('volume', 'destroy', name, { driver: 'local' });
    return reply.code(204).send();
  });

  app.post('/volumes/prune', async (request) => {
    const f = parseFilters(qs(queryOf(request), 'filters'), PRUNE_FILTERS);
    // From API 1.42 prune removes anonymous volumes only, unless `all=true`.
    const allValues = f.get('all') ?? [];
    const all = !versionAtLeast(apiVersionOf(request.raw), '1.42') || allValues.some((v) => v === 'true' || v === '1');
    const { names, bytes } = await store.prune((v) => {
      if (!matchLabels(f.get('label'), v.Labels)) return false;
      if (f.get('label!')?.length && !matchLabels(f.get('label!'), v.Labels, true)) return false;
      return true;
    }, all);
    for (const n of names) host.events.emit('volume', 'destroy', n, { driver: 'local' });
    return { VolumesDeleted: names, SpaceReclaimed: bytes };
  });
}

function any(values: string[] | undefined, test: (v: string) => boolean): boolean {
  return !values || values.length === 0 || values.some(test);
}

function strings(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`invalid ${what}: expected an object of strings`);
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw new InvalidArgumentError(`invalid ${what}: value of ${k} is not a string`);
  return { ...(v as Record<string, string>) };
}

export { ANONYMOUS_LABEL };
