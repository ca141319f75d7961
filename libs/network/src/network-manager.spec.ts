// Integration tests (root, real kernel): namespaces, veths, bridges, iptables, the embedded DNS and the proxy,
// asserted with real traffic from busybox processes inside the namespaces.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { codeOf, isConflict, isNotFound } from '@berth/errdefs';
import { run, stopProcess, testSubnet, uniqueSuffix } from '@berth/testing';
import { bridgeNetworkRecord, OPT_BRIDGE_NAME, OPT_ICC } from './network-config.ts';
import { needsBridgeNetfilter, type NetworkManager } from './network-manager.ts';
import {
  bodyOf, echoPeer, httpd, httpGet, inContainer, inNetns, makeEnv, outsideHost, readLine, sandboxSpec, stopHttpd, type Env,
} from './spec-env.ts';

async function tcpGetFromHost(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let data = '';
    s.setTimeout(3000, () => s.destroy());
    s.on('connect', () => s.write('GET / HTTP/1.0\r\n\r\n'));
    s.on('data', (d) => (data += d.toString()));
    s.on('error', () => resolve(''));
    s.on('close', () => resolve(bodyOf(data)));
  });
}

async function nslookup(netns: string, name: string): Promise<string> {
  return (await inNetns(netns, ['busybox', 'nslookup', '-type=a', name, '127.0.0.11'], 8000)).stdout;
}

describe('NetworkManager on the real kernel', { concurrency: false }, () => {
  let env: Env;
  let m: NetworkManager;

  before(async () => {
    env = await makeEnv();
    m = await env.open();
  });
  after(async () => {
    await env.close();
  });

  it('predefines bridge, host and none, with the default bridge on its own Linux bridge and subnet', async () => {
    const names = m.list().map((n) => n.name).sort();
    assert.deepEqual(names, ['bridge', 'host', 'none']);
    const bridge = m.get('bridge');
    assert.equal(bridge.ipam.config[0]!.subnet, env.subnet.subnet);
    assert.equal(bridge.ipam.config[0]!.gateway, env.subnet.gateway);
    assert.equal(bridge.options[OPT_BRIDGE_NAME], env.bridge);
    const addr = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', env.bridge]);
    assert.match(addr.stdout, new RegExp(`inet ${env.subnet.gateway.replaceAll('.', '\\.')}/24`));
    assert.equal(m.get(bridge.id.slice(0, 10)).name, 'bridge');
    assert.throws(() => m.get('nope'), (e) => isNotFound(e) && /network nope not found/.test((e as Error).message));
    await assert.rejects(m.remove('bridge'), (e) => codeOf(e) === 'permission_denied' && /pre-defined network and cannot be removed/.test((e as Error).message));
  });

  it('connects containers on a user network by address, name and alias, and keeps other networks out', async () => {
    const a = await m.create({ name: `${env.tag}-a`, options: { [OPT_BRIDGE_NAME]: `${env.tag}a` }, labels: { x: 'y' } });
    const b = await m.create({ name: `${env.tag}-b`, options: { [OPT_BRIDGE_NAME]: `${env.tag}b` } });
    assert.notEqual(a.ipam.config[0]!.subnet, b.ipam.config[0]!.subnet);
    const web = await m.createSandbox(sandboxSpec(env, 'web', a.name, { endpoints: { [a.name]: { aliases: ['www'] } } }));
    const client = await m.createSandbox(sandboxSpec(env, 'client', a.name));
    const stranger = await m.createSandbox(sandboxSpec(env, 'stranger', b.id));
    const h = await httpd(web.netnsPath!, 'hello from web');
    try {
      const webIp = web.endpoints[0]!.ip;
      assert.equal(await httpGet(client.netnsPath!, webIp), 'hello from web');
      // By name, as a container resolves it: its own /etc/resolv.conf → 127.0.0.11 → berth's DNS.
      const byName = await inContainer(client.netnsPath!, client, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 web 80`);
      assert.equal(bodyOf(byName.stdout), 'hello from web', byName.stderr);
      for (const name of ['www', `web.${a.name}`, web.containerId.slice(0, 12)]) {
        assert.match(await nslookup(client.netnsPath!, name), new RegExp(`Address: ${webIp.replaceAll('.', '\\.')}`), name);
      }
      // Other names are forwarded to the host's resolvers (here the test's fake one).
      assert.match(await nslookup(client.netnsPath!, 'elsewhere.example'), /Address: 192\.0\.2\.77/);
      // Another network: no route through, and no answer for names that are not on its networks.
      assert.equal(await httpGet(stranger.netnsPath!, webIp, 80, 2), '');
      assert.doesNotMatch(await nslookup(stranger.netnsPath!, 'web'), new RegExp(webIp.replaceAll('.', '\\.')));
      // The files a container gets.
      assert.match(readFileSync(client.resolvConfPath, 'utf8'), /^nameserver 127\.0\.0\.11$/m);
      assert.match(readFileSync(client.resolvConfPath, 'utf8'), /^options ndots:0$/m);
      assert.match(readFileSync(web.hostsPath, 'utf8'), new RegExp(`^${webIp.replaceAll('.', '\\.')}\\t${web.hostname}$`, 'm'));
      assert.equal(readFileSync(web.hostnamePath, 'utf8'), `${web.hostname}\n`);
      // Inside: lo and eth0 with the address, default route via the gateway.
      const links = await inNetns(web.netnsPath!, ['ip', '-o', '-4', 'addr']);
      assert.match(links.stdout, new RegExp(`eth0\\s+inet ${webIp.replaceAll('.', '\\.')}/24`));
      const route = await inNetns(web.netnsPath!, ['ip', 'route', 'show', 'default']);
      assert.match(route.stdout, new RegExp(`default via ${a.ipam.config[0]!.gateway.replaceAll('.', '\\.')} dev eth0`));
      assert.deepEqual(m.endpoints(a.id).map((e) => e.containerName).sort(), ['client', 'web']);
      await assert.rejects(m.remove(a.name), (e) => isConflict(e) && /has active endpoints/.test((e as Error).message));
    } finally {
      await stopHttpd(h);
      for (const s of [web, client, stranger]) await m.releaseSandbox(s.containerId);
    }
    assert.deepEqual(m.endpoints(a.id), []);
    await m.remove(a.id);
    await m.remove(b.name);
    assert.equal((await run('ip', ['link', 'show', `${env.tag}a`])).code, 1);
  });

  it('publishes ports: the host (loopback included) and other hosts by DNAT, other containers through the proxy', async () => {
    const outside = await outsideHost(env, 'p');
    const free = await freePort();
    const udpPort = await freePort();
    const web = await m.createSandbox(sandboxSpec(env, 'pub', 'bridge', {
      portBindings: { '80/tcp': [{ hostIp: '', hostPort: String(free) }], '53/udp': [{ hostPort: String(udpPort) }] },
      exposedPorts: ['80/tcp', '443/tcp'], publishAllPorts: true,
    }));
    const other = await m.createSandbox(sandboxSpec(env, 'other', 'bridge', { links: [{ containerId: web.containerId, alias: 'webalias' }] }));
    const echo = await echoPeer(web.netnsPath!, 80);
    const udpEcho = (await import('node:child_process')).spawn('nsenter', [`--net=${web.netnsPath}`, 'socat', 'UDP-LISTEN:53,fork', 'SYSTEM:echo $SOCAT_PEERADDR'], { stdio: 'ignore' });
    try {
      assert.equal(web.ports.find((p) => p.containerPort === 80)!.hostPort, free);
      const ephemeral = web.ports.find((p) => p.containerPort === 443)!;
      assert.ok(ephemeral.hostPort >= 1024 && ephemeral.hostPort !== free);
      // The container sees who connected: the bridge's address for loopback (masqueraded) and for the proxy.
      const dnatPackets = async () => {
        const out = (await run('iptables', ['-w', '-t', 'nat', '-L', `${env.prefix}-DNAT`, '-v', '-x', '-n'])).stdout;
        return Number(out.split('\n').find((l) => l.includes(`dpt:${free}`))?.trim().split(/\s+/)[0] ?? -1);
      };
      const before = await dnatPackets();
      assert.equal(await readLine(undefined, '127.0.0.1', free), env.subnet.gateway);
      assert.ok((await dnatPackets()) > before, 'loopback went through the DNAT rule');
      assert.equal(await readLine(undefined, outside.hostIp, free), outside.hostIp);
      assert.equal(await readLine(outside.netns, outside.hostIp, free), outside.ip);
      // From another container through the host (the gateway, another host address): relayed by the proxy.
      assert.equal(await readLine(other.netnsPath!, env.subnet.gateway, free), env.subnet.gateway);
      assert.equal(await readLine(other.netnsPath!, outside.hostIp, free), env.subnet.gateway);
      // Not published: the outside host cannot reach the container directly, even with a route to it.
      await inNetns(outside.netns, ['ip', 'route', 'add', env.subnet.subnet, 'via', outside.hostIp]);
      assert.equal(await readLine(outside.netns, web.endpoints[0]!.ip, 80), '');
      // UDP: loopback and another host, by DNAT as for TCP.
      const udp = async (ns: string | undefined, host: string) => {
        const args = ['socat', '-T', '2', '-', `UDP:${host}:${udpPort}`];
        for (let i = 0; i < 20; i++) {
          const r = ns ? await run('nsenter', [`--net=${ns}`, ...args], { input: 'x\n' }) : await run(args[0]!, args.slice(1), { input: 'x\n' });
          if (r.stdout.trim()) return r.stdout.trim();
        }
        return '';
      };
      assert.equal(await udp(undefined, '127.0.0.1'), env.subnet.gateway);
      assert.equal(await udp(outside.netns, outside.hostIp), outside.ip);
      // A legacy link names the target in /etc/hosts.
      assert.match(readFileSync(other.hostsPath, 'utf8'), new RegExp(`^${web.endpoints[0]!.ip.replaceAll('.', '\\.')}\\twebalias `, 'm'));
      // The default bridge has no embedded DNS: the host's resolvers, loopback ones filtered (none left → fallback).
      assert.doesNotMatch(readFileSync(web.resolvConfPath, 'utf8'), /127\./);
      // A port taken is refused with Docker's message, and nothing is left of the attempt.
      await assert.rejects(m.createSandbox(sandboxSpec(env, 'clash', 'bridge', { portBindings: { '80/tcp': [{ hostPort: String(free) }] } })),
        (e) => isConflict(e) && /port is already allocated/.test((e as Error).message));
      assert.equal(m.sandboxIds().length, 2);
      assert.equal((await run('ls', [path.join(env.execRoot, 'netns')])).stdout.trim().split('\n').length, 2);
    } finally {
      await stopProcess(echo);
      await stopProcess(udpEcho);
      await m.releaseSandbox(web.containerId);
      await m.releaseSandbox(other.containerId);
      await outside.close();
    }
    assert.equal(await readLine(undefined, '127.0.0.1', free), '');
    const nat = await run('iptables', ['-w', '-t', 'nat', '-S', `${env.prefix}-DNAT`]);
    assert.doesNotMatch(nat.stdout, /DNAT --to-destination/);
  });

  it('masquerades outbound traffic to a host beyond the bridge', async () => {
    const outside = await outsideHost(env, 'o');
    const echo = await echoPeer(outside.netns, 9000);
    const c = await m.createSandbox(sandboxSpec(env, 'out', 'bridge'));
    try {
      assert.equal(await readLine(c.netnsPath!, outside.ip, 9000), outside.hostIp, 'the outside host sees the host address, not the container');
    } finally {
      await m.releaseSandbox(c.containerId);
      await stopProcess(echo);
      await outside.close();
    }
  });

  it('none, host and container modes', async () => {
    const none = await m.createSandbox(sandboxSpec(env, 'none1', 'none'));
    const host = await m.createSandbox(sandboxSpec(env, 'host1', 'host', { extraHosts: ['db:192.0.2.5', 'gw:host-gateway'] }));
    const owner = await m.createSandbox(sandboxSpec(env, 'owner', 'bridge'));
    const joiner = await m.createSandbox(sandboxSpec(env, 'joiner', `container:${owner.containerId}`));
    try {
      const links = await inNetns(none.netnsPath!, ['ip', '-o', 'link']);
      assert.deepEqual(links.stdout.trim().split('\n').map((l) => l.split(':')[1]!.trim()), ['lo']);
      assert.match(links.stdout, /lo: <LOOPBACK,UP,LOWER_UP>/);
      assert.equal(host.netnsPath, undefined);
      assert.match(readFileSync(host.hostsPath, 'utf8'), /^192\.0\.2\.5\tdb$/m);
      assert.match(readFileSync(host.hostsPath, 'utf8'), new RegExp(`^${env.subnet.gateway.replaceAll('.', '\\.')}\\tgw$`, 'm'));
      assert.match(readFileSync(host.resolvConfPath, 'utf8'), new RegExp(`nameserver ${env.upstream.replaceAll('.', '\\.')}`));
      assert.equal(joiner.netnsPath, owner.netnsPath);
      assert.equal(joiner.hostsPath, owner.hostsPath);
      await assert.rejects(m.createSandbox(sandboxSpec(env, 'orphan', `container:${uniqueSuffix(16)}${uniqueSuffix(16)}`)), /cannot join network of a non running container/);
    } finally {
      for (const s of [joiner, owner, host, none]) await m.releaseSandbox(s.containerId);
    }
    assert.equal((await run('ls', [path.join(env.execRoot, 'netns')])).stdout.trim(), '');
  });

  it('connects and disconnects a running container, updating routes, DNS and /etc/hosts in place', async () => {
    const a = await m.create({ name: `${env.tag}-c`, options: { [OPT_BRIDGE_NAME]: `${env.tag}c` }, internal: true });
    const b = await m.create({ name: `${env.tag}-d`, options: { [OPT_BRIDGE_NAME]: `${env.tag}d2` } });
    const c = await m.createSandbox(sandboxSpec(env, 'mover', a.name, { endpoints: { [a.name]: { ipv4Address: a.ipam.config[0]!.gateway.replace(/\.1$/, '.77') } } }));
    const peer = await m.createSandbox(sandboxSpec(env, 'peer', b.name));
    const h = await httpd(peer.netnsPath!, 'peer');
    try {
      assert.equal(c.endpoints[0]!.ip, a.ipam.config[0]!.gateway.replace(/\.1$/, '.77'));
      assert.equal((await inNetns(c.netnsPath!, ['ip', 'route', 'show', 'default'])).stdout.trim(), '', 'internal: no default route');
      const inode = statSync(c.hostsPath).ino;
      const connected = await m.connect(c.containerId, b.name, { aliases: ['mv'] });
      const ep1 = connected.endpoints.find((e) => e.networkId === b.id)!;
      assert.equal(ep1.ifname, 'eth1');
      assert.match((await inNetns(c.netnsPath!, ['ip', 'route', 'show', 'default'])).stdout, /dev eth1/);
      assert.equal(await httpGet(c.netnsPath!, peer.endpoints[0]!.ip), 'peer');
      assert.match(await nslookup(peer.netnsPath!, 'mv'), new RegExp(ep1.ip.replaceAll('.', '\\.')));
      assert.equal(statSync(c.hostsPath).ino, inode);
      assert.match(readFileSync(c.hostsPath, 'utf8'), new RegExp(`^${ep1.ip.replaceAll('.', '\\.')}\\t`, 'm'));
      await assert.rejects(m.connect(c.containerId, b.name), (e) => isConflict(e));
      // Leaving the internal network (the one 127.0.0.11 pointed at): DNS moves to the other network.
      await m.disconnect(c.containerId, a.name);
      assert.match(await nslookup(c.netnsPath!, 'peer'), new RegExp(peer.endpoints[0]!.ip.replaceAll('.', '\\.')));
      const after = await inNetns(c.netnsPath!, ['ip', '-o', 'link']);
      assert.doesNotMatch(after.stdout, /eth0/);
      await assert.rejects(m.disconnect(c.containerId, a.name), (e) => isNotFound(e));
      await m.disconnect(c.containerId, b.name);
      assert.equal((await inNetns(c.netnsPath!, ['ip', 'route', 'show', 'default'])).stdout.trim(), '');
    } finally {
      await stopHttpd(h);
      await m.releaseSandbox(c.containerId);
      await m.releaseSandbox(peer.containerId);
      await m.remove(a.id);
      await m.remove(b.id);
    }
  });

  it('validates network requests', async () => {
    const sub = testSubnet();
    const n = await m.create({ name: `${env.tag}-v`, ipam: { config: [{ subnet: sub.subnet, ipRange: `${sub.prefix}.128/25` }] } });
    try {
      assert.equal(n.bridge!.name, `br-${n.id.slice(0, 12)}`);
      await assert.rejects(m.create({ name: `${env.tag}-v` }), /already exists/);
      await assert.rejects(m.create({ name: `${env.tag}-w`, ipam: { config: [{ subnet: sub.subnet }] } }), /Pool overlaps/);
      await assert.rejects(m.create({ name: 'bad name' }), /invalid name/);
      await assert.rejects(m.create({ name: `${env.tag}-w`, driver: 'overlay' }), /plugin "overlay" not found/);
      await assert.rejects(m.create({ name: `${env.tag}-w`, ipam: { config: [{ subnet: '10.1.2.3/24' }] } }), /invalid subnet/);
      await assert.rejects(m.create({ name: `${env.tag}-w`, options: { 'com.docker.network.driver.mtu': 'x' } }), /invalid MTU/);
      const s = await m.createSandbox(sandboxSpec(env, 'ranged', n.name));
      assert.ok(Number(s.endpoints[0]!.ip.split('.')[3]) >= 128);
      await assert.rejects(m.createSandbox(sandboxSpec(env, 'dup', n.name, { endpoints: { [n.name]: { ipv4Address: s.endpoints[0]!.ip } } })), (e) => isConflict(e));
      await m.releaseSandbox(s.containerId);
      assert.deepEqual(await m.prune((x) => x.name === `${env.tag}-v`), [`${env.tag}-v`]);
    } finally {
      await m.remove(n.id).catch(() => {});
    }
    assert.equal((await run('ip', ['link', 'show', `br-${n.id.slice(0, 12)}`])).code, 1);
  });

  it('reconciles after a restart: rules, proxies and DNS come back, gone containers are released', async () => {
    const n = await m.create({ name: `${env.tag}-r`, options: { [OPT_BRIDGE_NAME]: `${env.tag}r` } });
    const port = await freePort();
    const web = await m.createSandbox(sandboxSpec(env, 'keep', n.name, { portBindings: { '80/tcp': [{ hostPort: String(port) }] } }));
    const gone = await m.createSandbox(sandboxSpec(env, 'gone', n.name));
    const h = await httpd(web.netnsPath!, 'survivor');
    try {
      // The daemon goes away without tearing anything down (live restore), and someone flushes berth's chains.
      await m.close();
      await run('iptables', ['-w', '-t', 'nat', '-F', `${env.prefix}-DNAT`]);
      assert.equal(await tcpGetFromHost('127.0.0.1', port), '');
      m = await env.open();
      await m.retain([web.containerId]);
      assert.equal(m.sandbox(gone.containerId), undefined);
      assert.ok(m.sandbox(web.containerId));
      assert.equal(await tcpGetFromHost('127.0.0.1', port), 'survivor');
      const nat = await run('iptables', ['-w', '-t', 'nat', '-S', `${env.prefix}-DNAT`]);
      assert.match(nat.stdout, new RegExp(`--dport ${port} -j DNAT`));
      // Exactly one jump from each built-in chain, however often the daemon restarted.
      for (const [table, chain] of [['filter', 'FORWARD'], ['filter', 'INPUT'], ['nat', 'PREROUTING'], ['nat', 'OUTPUT'], ['nat', 'POSTROUTING']] as const) {
        const rules = (await run('iptables', ['-w', '-t', table, '-S', chain])).stdout.split('\n').filter((l) => l.includes(`-j ${env.prefix}-`));
        assert.equal(rules.length, 1, `${table} ${chain}: ${rules.join(' | ')}`);
      }
      assert.match(await nslookup(web.netnsPath!, 'keep'), new RegExp(web.endpoints[0]!.ip.replaceAll('.', '\\.')));
      // The released container's address is free again; the survivor's is not.
      const next = await m.createSandbox(sandboxSpec(env, 'next', n.name, { endpoints: { [n.name]: { ipv4Address: gone.endpoints[0]!.ip } } }));
      await m.releaseSandbox(next.containerId);
      assert.equal((await run('ls', [path.join(env.execRoot, 'netns')])).stdout.trim(), web.containerId);
    } finally {
      await stopHttpd(h);
      await m.releaseSandbox(web.containerId);
      await m.remove(n.id);
    }
  });

  it('leaves nothing behind: no bridge, veth, namespace or iptables rule once closed', async () => {
    await m.close();
    assert.deepEqual(await env.sweep(), []);
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe('bridge netfilter', () => {
  it('is needed, as dockerd decides, for icc=false and for DNAT without the userland proxy, and only with iptables', () => {
    const ctx = { networks: [], hostRoutes: [], pools: [{ base: { network: 0x0a630000, prefixLen: 16 }, size: 24 }] };
    const open = bridgeNetworkRecord({ name: 'open' }, [], ctx, { mtu: 1500 });
    const closed = bridgeNetworkRecord({ name: 'closed', options: { [OPT_ICC]: 'false' } }, [], ctx, { mtu: 1500 });
    assert.equal(needsBridgeNetfilter(open, {}), false);
    assert.equal(needsBridgeNetfilter(closed, {}), true);
    assert.equal(needsBridgeNetfilter(open, { userlandProxy: false }), true);
    assert.equal(needsBridgeNetfilter(closed, { iptables: false }), false);
  });
});
