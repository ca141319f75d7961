// The networks extension on the real kernel (root): the /networks routes with Docker's shapes and messages, and
// the Networking the container lifecycle calls, on a private default bridge, subnet, exec root and chain prefix.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Network } from '@berth/docker-api';
import { run, testSubnet, uniqueSuffix } from '@berth/testing';
import type { EngineExtension } from '../extensions.ts';
import { createExtension } from './index.ts';
import type { BridgeNetworking } from './bridge-networking.ts';
import { fakeHost, testApp, type FakeHost } from './spec-host.ts';

describe('networks extension', { concurrency: false }, () => {
  const id = uniqueSuffix(3);
  const base = path.join(tmpdir(), `berth-netext-${id}`);
  const execRoot = `/run/berth-netext-${id}`;
  const sub = testSubnet();
  const bridge = `bx${id}`;
  let host: FakeHost;
  let ext: EngineExtension;
  let app: FastifyInstance;
  let net: BridgeNetworking;

  before(async () => {
    mkdirSync(base, { recursive: true });
    writeFileSync(path.join(base, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    process.env.BERTH_RESOLV_CONF = path.join(base, 'resolv.conf');
    host = fakeHost({
      dataRoot: path.join(base, 'data'), execRoot, bridge, bip: `${sub.gateway}/24`,
      defaultAddressPools: [{ base: `10.${150 + (parseInt(id.slice(0, 2), 16) % 40)}.0.0/16`, size: 24 }],
    });
    ext = await createExtension(host);
    net = ext.networking as BridgeNetworking;
    app = await testApp((a) => ext.routes!(a));
  });

  after(async () => {
    await app?.close();
    for (const c of host?.views.values() ?? []) await net?.remove(c).catch(() => {});
    for (const n of net?.manager.list() ?? []) if (!n.predefined) await net.manager.remove(n.id).catch(() => {});
    await ext?.close?.();
    rmSync(base, { recursive: true, force: true });
    rmSync(execRoot, { recursive: true, force: true });
    delete process.env.BERTH_RESOLV_CONF;
  });

  it('lists the predefined networks and serves GET /networks/bridge with its IPAM config', async () => {
    const list = (await app.inject({ method: 'GET', url: '/v1.47/networks' })).json<Network[]>();
    assert.deepEqual(list.map((n) => n.Name).sort(), ['bridge', 'host', 'none']);
    const r = await app.inject({ method: 'GET', url: '/networks/bridge' });
    assert.equal(r.statusCode, 200);
    const b = r.json<Network>();
    assert.equal(b.Driver, 'bridge');
    assert.deepEqual(b.IPAM.Config, [{ Subnet: sub.subnet, Gateway: sub.gateway }]);
    assert.equal(b.Options!['com.docker.network.bridge.name'], bridge);
    assert.equal(b.Options!['com.docker.network.bridge.default_bridge'], 'true');
    const missing = await app.inject({ method: 'GET', url: '/networks/nope' });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { message: 'network nope not found' });
    const builtin = (await app.inject({ method: 'GET', url: `/networks?filters=${encodeURIComponent('{"type":["custom"]}')}` })).json<Network[]>();
    assert.deepEqual(builtin, []);
  });

  it('creates, inspects, connects, disconnects and removes a user network with Docker shapes and messages', async () => {
    const name = `bx${id}-u`;
    const created = await app.inject({
      method: 'POST', url: '/v1.47/networks/create', headers: { 'content-type': 'application/json' },
      payload: { Name: name, Labels: { team: 'a' }, Options: { 'com.docker.network.bridge.name': `bx${id}u` } },
    });
    assert.equal(created.statusCode, 201, created.body);
    const nid = created.json<{ Id: string; Warning: string }>().Id;
    assert.match(nid, /^[0-9a-f]{64}$/);
    const dup = await app.inject({
      method: 'POST', url: '/networks/create', headers: { 'content-type': 'application/json' }, payload: { Name: name },
    });
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json<{ message: string }>().message, `network with name ${name} already exists`);
    const byLabel = (await app.inject({ method: 'GET', url: `/networks?filters=${encodeURIComponent('{"label":["team=a"]}')}` })).json<Network[]>();
    assert.deepEqual(byLabel.map((n) => n.Name), [name]);

    // Two containers: one created on the network, one on the default bridge then connected while running.
    const web = host.make('web', { hostConfig: { NetworkMode: name }, endpointsConfig: { [name]: { Aliases: ['www'] } } });
    const cli = host.make('cli', { hostConfig: { NetworkMode: 'default', PortBindings: { '80/tcp': [{ HostPort: '' }] } }, config: { ExposedPorts: { '80/tcp': {} } } });
    const webReq = { id: web.id, name: web.name, config: web.config, hostConfig: web.hostConfig, endpointsConfig: web.endpointsConfig };
    await net.validate(webReq);
    await assert.rejects(net.validate({ id: 'x', name: 'x', config: {}, hostConfig: { NetworkMode: 'nope' }, endpointsConfig: {} }), /network nope not found/);
    await assert.rejects(
      net.validate({ id: 'x', name: 'x', config: {}, hostConfig: {}, endpointsConfig: { bridge: { Aliases: ['a'] } } }),
      /network-scoped alias is supported only for containers in user defined networks/,
    );
    const wa = await net.attach(web);
    web.running = true;
    const ca = await net.attach(cli);
    cli.running = true;
    assert.ok(typeof wa.netns === 'object' && wa.netns.path.startsWith(`${execRoot}/netns/`));
    assert.equal(wa.hostname, web.id.slice(0, 12));
    assert.match(readFileSync(wa.resolvConfPath, 'utf8'), /nameserver 127\.0\.0\.11/);
    assert.doesNotMatch(readFileSync(ca.resolvConfPath, 'utf8'), /127\.0\.0\.11/);

    const ws = net.settings(web);
    assert.deepEqual(Object.keys(ws.Networks), [name]);
    const wep = ws.Networks[name]!;
    assert.equal(wep.NetworkID, nid);
    assert.match(wep.IPAddress!, /^\d+\.\d+\.\d+\.\d+$/);
    assert.deepEqual(wep.Aliases, ['www']);
    assert.deepEqual(wep.DNSNames, ['web', 'www', web.id.slice(0, 12)]);
    assert.equal(ws.IPAddress, '', 'top-level fields are the default bridge endpoint only');
    assert.equal(ws.SandboxKey, (wa.netns as { path: string }).path);
    const cs = net.settings(cli);
    assert.match(cs.IPAddress!, new RegExp(`^${sub.prefix.replaceAll('.', '\\.')}\\.`));
    assert.equal(cs.Gateway, sub.gateway);
    const hostPort = cs.Ports!['80/tcp']![0]!;
    assert.equal(hostPort.HostIp, '0.0.0.0');
    assert.ok(Number(hostPort.HostPort) > 0);

    const conn = await app.inject({
      method: 'POST', url: `/networks/${name}/connect`, headers: { 'content-type': 'application/json' },
      payload: { Container: 'cli', EndpointConfig: { Aliases: ['client'] } },
    });
    assert.equal(conn.statusCode, 200, conn.body);
    const again = await app.inject({ method: 'POST', url: `/networks/${name}/connect`, headers: { 'content-type': 'application/json' }, payload: { Container: 'cli' } });
    assert.equal(again.statusCode, 409);
    const insp = (await app.inject({ method: 'GET', url: `/networks/${nid.slice(0, 12)}` })).json<Network>();
    assert.deepEqual(Object.values(insp.Containers!).map((c) => c.Name).sort(), ['cli', 'web']);
    assert.match(insp.Containers![web.id]!.IPv4Address, /\/24$/);
    // The connected container resolves the other by name through the embedded DNS, from its own namespace.
    const cliNs = (ca.netns as { path: string }).path;
    const lookup = await run('nsenter', [`--net=${cliNs}`, 'busybox', 'nslookup', '-type=a', 'www', '127.0.0.11']);
    assert.match(lookup.stdout, new RegExp(`Address: ${wep.IPAddress!.replaceAll('.', '\\.')}`), lookup.stdout + lookup.stderr);

    const busy = await app.inject({ method: 'DELETE', url: `/networks/${name}` });
    assert.equal(busy.statusCode, 409);
    assert.match(busy.json<{ message: string }>().message, /has active endpoints/);
    const disc = await app.inject({ method: 'POST', url: `/networks/${name}/disconnect`, headers: { 'content-type': 'application/json' }, payload: { Container: cli.id } });
    assert.equal(disc.statusCode, 200, disc.body);
    assert.deepEqual(Object.keys(net.settings(cli).Networks), ['bridge']);

    // A stopped container keeps its configuration; connect on it is remembered for the next start.
    await net.detach(cli);
    cli.running = false;
    await app.inject({ method: 'POST', url: `/networks/${nid}/connect`, headers: { 'content-type': 'application/json' }, payload: { Container: 'cli' } });
    const stopped = net.settings(cli);
    assert.deepEqual(Object.keys(stopped.Networks).sort(), ['bridge', name]);
    assert.equal(stopped.Networks[name]!.IPAddress, '');
    assert.deepEqual(stopped.Ports, {});
    const again2 = await net.attach(cli);
    cli.running = true;
    assert.equal(net.manager.sandbox(cli.id)!.endpoints.length, 2);
    assert.ok(again2.netns);

    for (const c of [web, cli]) {
      await net.detach(c);
      c.running = false;
    }
    const del = await app.inject({ method: 'DELETE', url: `/networks/${name}` });
    assert.equal(del.statusCode, 204);
    const events = host.events.past(0n, undefined, new Map([['type', ['network']]])).map((e) => e.Action);
    assert.ok(['create', 'connect', 'disconnect', 'destroy'].every((a) => events.includes(a)), events.join(','));
  });

  it('refuses to remove predefined networks and prunes unused ones', async () => {
    const r = await app.inject({ method: 'DELETE', url: '/networks/bridge' });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json<{ message: string }>().message, 'bridge is a pre-defined network and cannot be removed');
    const name = `bx${id}-p`;
    await app.inject({ method: 'POST', url: '/networks/create', headers: { 'content-type': 'application/json' }, payload: { Name: name, Labels: { keep: 'no' } } });
    const pruned = await app.inject({ method: 'POST', url: `/networks/prune?filters=${encodeURIComponent('{"label":["keep=no"]}')}` });
    assert.deepEqual(pruned.json(), { NetworksDeleted: [name] });
  });

  it('none, host and container modes', async () => {
    const none = host.make('n1', { hostConfig: { NetworkMode: 'none' } });
    const hostc = host.make('h1', { hostConfig: { NetworkMode: 'host' } });
    const a = await net.attach(none);
    none.running = true;
    const links = await run('nsenter', [`--net=${(a.netns as { path: string }).path}`, 'ip', '-o', 'link']);
    assert.deepEqual(links.stdout.trim().split('\n').map((l) => l.split(':')[1]!.trim()), ['lo']);
    // IPv6 off, as dockerd has it for networks without IPv6: no ::1 on lo
    const v6 = await run('nsenter', [`--net=${(a.netns as { path: string }).path}`, 'sh', '-c',
      'cat /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/lo/disable_ipv6; ip -6 addr']);
    assert.equal(v6.stdout, '1\n1\n');
    const h = await net.attach(hostc);
    assert.equal(h.netns, 'host');
    const joiner = host.make('j1', { hostConfig: { NetworkMode: 'container:n1' } });
    await net.validate({ id: joiner.id, name: 'j1', config: {}, hostConfig: joiner.hostConfig, endpointsConfig: {} });
    assert.equal(joiner.hostConfig.NetworkMode, `container:${none.id}`);
    const j = await net.attach(joiner);
    assert.deepEqual(j.netns, a.netns);
    assert.deepEqual(Object.keys(net.settings(joiner).Networks), []);
    assert.deepEqual(Object.keys(net.settings(none).Networks), ['none']);
    for (const c of [joiner, none, hostc]) await net.detach(c);
  });
});
