/**
 * `docker network` on the Engine API: list (with Docker's filters), inspect, create, remove, prune, connect and
 * disconnect, answering with Docker's shapes, statuses and messages.
 */
import type { FastifyInstance } from 'fastify';
import type { EndpointSettings, Network, NetworkContainer, NetworkCreateRequest } from '@berth/docker-api';
import { InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import type { NetworkRecord } from '@berth/network';
import { matchLabels, parseFilters, qs, queryOf, readJsonObject } from '../api/query.ts';
import type { ExtensionHost } from '../extensions.ts';
import type { BridgeNetworking } from './bridge-networking.ts';
import { networkContainer, networkView } from './views.ts';

const LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'];
const PRUNE_FILTERS = ['until', 'label', 'label!'];

export function networkRoutes(app: FastifyInstance, host: ExtensionHost, net: BridgeNetworking): void {
  const m = net.manager;

  const containersOf = (n: NetworkRecord): Record<string, NetworkContainer> => {
    const out: Record<string, NetworkContainer> = {};
    for (const e of m.endpoints(n.id)) out[e.containerId] = networkContainer(e.containerName, e.endpoint);
    return out;
  };

  app.get('/networks', async (request) => {
    const f = parseFilters(qs(queryOf(request), 'filters'), LIST_FILTERS);
    const dangling = f.get('dangling');
    if (dangling?.some((v) => !['true', 'false', '1', '0'].includes(v))) throw new InvalidArgumentError(`invalid filter 'dangling=${dangling.join(',')}'`);
    const types = f.get('type') ?? [];
    for (const t of types) if (t !== 'custom' && t !== 'builtin') throw new InvalidArgumentError(`invalid filter: 'type'='${t}'`);
    const out: Network[] = [];
    for (const n of m.list()) {
      const used = m.endpoints(n.id).length > 0;
      if (dangling?.length && dangling.some((v) => (v === 'true' || v === '1') === (n.predefined || used))) continue;
      if (!any(f.get('driver'), (v) => n.driver === v)) continue;
      if (!any(f.get('id'), (v) => n.id.startsWith(v))) continue;
      if (!any(f.get('name'), (v) => n.name.includes(v))) continue;
      if (!any(f.get('scope'), (v) => v === 'local')) continue;
      if (!any(types, (v) => (v === 'builtin') === n.predefined)) continue;
      if (!matchLabels(f.get('label'), n.labels)) continue;
      out.push(networkView(n));
    }
    return out;
  });

  app.get('/networks/:id', async (request) => {
    const { id } = request.params as { id: string };
    const q = queryOf(request);
    const scope = qs(q, 'scope');
    const n = m.get(id);
    if (scope && scope !== 'local') throw new NotFoundError(`network ${id} not found`);
    return networkView(n, containersOf(n));
  });

  app.post('/networks/create', async (request, reply) => {
    const body = await readJsonObject<NetworkCreateRequest>(request);
    if (typeof body.Name !== 'string' || body.Name === '') throw new InvalidArgumentError('network name must not be empty');
    if (body.Scope && body.Scope !== 'local') throw new InvalidArgumentError(`invalid scope ${JSON.stringify(body.Scope)}: only local networks are supported`);
    if (body.ConfigOnly || body.ConfigFrom?.Network) throw new InvalidArgumentError('config-only networks are not supported');
    if (body.Ingress) throw new InvalidArgumentError('ingress networks are not supported (no swarm)');
    if (body.EnableIPv4 === false) throw new InvalidArgumentError('IPv4 cannot be disabled on a bridge network');
    const n = await m.create({
      name: body.Name,
      ...(body.Driver ? { driver: body.Driver } : {}),
      internal: !!body.Internal,
      attachable: !!body.Attachable,
      enableIPv6: !!body.EnableIPv6,
      labels: record(body.Labels, 'Labels'),
      options: record(body.Options, 'Options'),
      ipam: {
        ...(body.IPAM?.Driver ? { driver: body.IPAM.Driver } : {}),
        options: record(body.IPAM?.Options ?? undefined, 'IPAM.Options'),
        config: (body.IPAM?.Config ?? []).map((c) => ({
          ...(c.Subnet ? { subnet: c.Subnet } : {}),
          ...(c.Gateway ? { gateway: c.Gateway } : {}),
          ...(c.IPRange ? { ipRange: c.IPRange } : {}),
          ...(c.AuxiliaryAddresses ? { auxAddresses: c.AuxiliaryAddresses } : {}),
        })),
      },
    });
    host.events.emit('network', 'create', n.id, { name: n.name, type: n.driver });
    return reply.code(201).send({ Id: n.id, Warning: '' });
  });

  app.delete('/networks/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const n = m.get(id);
    await m.remove(n.id);
    host.events.emit('network', 'destroy', n.id, { name: n.name, type: n.driver });
    return reply.code(204).send();
  });

  app.post('/networks/prune', async (request) => {
    const f = parseFilters(qs(queryOf(request), 'filters'), PRUNE_FILTERS);
    const until = f.get('until')?.map(untilMs);
    const removed: string[] = [];
    for (const n of m.list()) {
      if (n.predefined) continue;
      if (until?.some((t) => Date.parse(n.created) >= t)) continue;
      if (!matchLabels(f.get('label'), n.labels)) continue;
      if (f.get('label!')?.length && !matchLabels(f.get('label!'), n.labels, true)) continue;
      const pruned = await m.prune((x) => x.id === n.id);
      if (pruned.length) {
        removed.push(n.name);
        host.events.emit('network', 'destroy', n.id, { name: n.name, type: n.driver });
      }
    }
    return { NetworksDeleted: removed };
  });

  app.post('/networks/:id/connect', async (request, reply) => {
    const { id } = request.params as { id: string };
    const body = await readJsonObject<{ Container: string; EndpointConfig?: EndpointSettings }>(request);
    if (typeof body.Container !== 'string' || !body.Container) throw new InvalidArgumentError('no container given to connect');
    const n = m.get(id);
    const c = host.container(body.Container);
    await net.connect(c, n.id, body.EndpointConfig ?? {});
    return reply.code(200).send();
  });

  app.post('/networks/:id/disconnect', async (request, reply) => {
    const { id } = request.params as { id: string };
    const body = await readJsonObject<{ Container: string; Force?: boolean }>(request);
    if (typeof body.Container !== 'string' || !body.Container) throw new InvalidArgumentError('no container given to disconnect');
    const n = m.get(id);
    const c = host.container(body.Container);
    await net.disconnect(c, n.id);
    return reply.code(200).send();
  });
}

function any(values: string[] | undefined, test: (v: string) => boolean): boolean {
  return !values || values.length === 0 || values.some(test);
}

function record(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`invalid ${what}: expected an object of strings`);
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw new InvalidArgumentError(`invalid ${what}: value of ${k} is not a string`);
  return { ...(v as Record<string, string>) };
}

/** Docker's `until`: a Unix timestamp (seconds, fractions allowed), an RFC 3339 time, or a duration like `24h`. */
export function untilMs(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/.exec(v);
  if (d) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    return Date.now() - Number(d[1]) * unit[d[2]!]!;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`invalid filter 'until=${v}'`);
  return t;
}
