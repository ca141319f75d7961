// Direct delivery: the tc lines (unit) and, on the real kernel, that frames between the containers of a network
// go through the redirects and nowhere else than intended, across connect, disconnect, release and restarts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { run } from '@berth/testing';
import { attachLines, detachLines, directEntries, entryHandle, resyncLines, type DirectEntry } from './direct-delivery.ts';
import { OPT_BRIDGE_NAME, OPT_DIRECT_DELIVERY, OPT_ICC } from './network-config.ts';
import type { NetworkManager } from './network-manager.ts';
import { httpd, httpGet, inNetns, makeEnv, sandboxSpec, stopHttpd, type Env } from './spec-env.ts';
import type { SandboxInfo, SandboxSpec } from './types.ts';

describe('direct delivery tc lines', () => {
  it('derives exact entry handles from the MAC', () => {
    assert.equal(entryHandle({ hostIf: 'v', mac: '02:42:ac:12:00:05' }), '1:05:201');
    assert.equal(entryHandle({ hostIf: 'v', mac: '02:42:0a:01:03:07' }), '1:07:104');
    assert.equal(entryHandle({ hostIf: 'v', mac: '02:42:0A:01:03:FE' }), '1:fe:104');
    assert.equal(entryHandle({ hostIf: 'v', mac: 'nonsense' }), undefined);
    // Every address of a /16 (MACs made from them) gets its own handle.
    const handles = new Set<string>();
    for (let i = 0; i < 65536; i++) handles.add(entryHandle({ hostIf: 'v', mac: `02:42:ac:14:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` })!);
    assert.equal(handles.size, 65536);
  });

  it('binds, adds, deletes and rebuilds with one entry per container', () => {
    const p = { hostIf: 'veth1234567', mac: '02:42:ac:12:00:05' };
    const q = { hostIf: 'veth7654321', mac: '02:42:ac:12:00:06' };
    const add = attachLines(9, p);
    assert.equal(add[0], 'qdisc add dev veth1234567 ingress_block 9 ingress');
    const entry = 'filter add block 9 pref 1 protocol all handle 1:05:201 u32 ht 1:05: match ether dst 02:42:ac:12:00:05';
    assert.equal(add.at(-1), `${entry} action mirred egress redirect dev veth1234567`);
    assert.deepEqual(detachLines(9, p), ['filter del block 9 pref 1 protocol all handle 1:05:201 u32']);
    const all = resyncLines(9, [p, q]);
    assert.deepEqual(all.slice(0, 3), ['qdisc add dev veth1234567 ingress_block 9 ingress', 'qdisc add dev veth7654321 ingress_block 9 ingress', 'filter del block 9']);
    assert.equal(all.filter((l) => l.includes('mirred')).length, 2);
    assert.deepEqual(resyncLines(9, []), []);
  });
});

/** The redirect entries of a bridge's block, as `<target veth> <MAC>`. */
async function listed(bridge: string): Promise<string[]> {
  return (await directEntries(bridge)).map((x) => `${x.dev} ${x.mac}`).sort();
}

/** The redirect entries of a bridge's block, by target veth. */
async function entries(bridge: string): Promise<Map<string, DirectEntry>> {
  return new Map((await directEntries(bridge)).map((x) => [x.dev, x]));
}

async function boundBlock(hostIf: string): Promise<string | undefined> {
  return /ingress_block (\d+)/.exec((await run('tc', ['qdisc', 'show', 'dev', hostIf])).stdout)?.[1];
}

describe('direct delivery on the real kernel', { concurrency: false }, () => {
  let env: Env;
  let m: NetworkManager;

  before(async () => {
    env = await makeEnv();
    m = await env.open();
  });
  after(async () => {
    await env.close();
  });

  const spec = (name: string, networkMode: string, extra: Partial<SandboxSpec> = {}) => sandboxSpec(env, name, networkMode, extra);
  const hostIf = (s: SandboxInfo, i = 0) => s.endpoints[i]!.hostIf;

  it('hands frames between containers of a network to the receiving veth, following connect, disconnect and release', async () => {
    const bridge = `${env.tag}x`;
    const n = await m.create({ name: `${env.tag}-x`, options: { [OPT_BRIDGE_NAME]: bridge } });
    const a = await m.createSandbox(spec('a', n.name));
    const b = await m.createSandbox(spec('b', n.name));
    const c = await m.createSandbox(spec('c', 'bridge'));
    const h = await httpd(b.netnsPath!, 'straight to b');
    try {
      // Entries are added after the stacks are made, not waited for.
      await m.directDeliverySettled();
      let e = await entries(bridge);
      assert.deepEqual([...e.keys()].sort(), [hostIf(a), hostIf(b)].sort());
      assert.equal(e.get(hostIf(b))!.mac, b.endpoints[0]!.mac);
      assert.equal(e.get(hostIf(b))!.bytes, 0);
      assert.equal(await httpGet(a.netnsPath!, b.endpoints[0]!.ip), 'straight to b');
      // Both directions went through the redirects: the request to b's veth, the answer to a's.
      e = await entries(bridge);
      assert.ok(e.get(hostIf(b))!.bytes > 0, 'a → b took the redirect');
      assert.ok(e.get(hostIf(a))!.bytes > 0, 'b → a took the redirect');
      // The gateway is still reached through the bridge (the embedded DNS answers by name).
      const ns = await inNetns(a.netnsPath!, ['busybox', 'nslookup', '-type=a', 'b', b.endpoints[0]!.gateway]);
      assert.match(ns.stdout, new RegExp(`Address: ${b.endpoints[0]!.ip.replaceAll('.', '\\.')}`));

      const joined = await m.connect(c.containerId, n.name);
      const cOnN = joined.endpoints.find((ep) => ep.networkId === n.id)!;
      await m.directDeliverySettled();
      assert.deepEqual([...(await entries(bridge)).keys()].sort(), [hostIf(a), hostIf(b), cOnN.hostIf].sort());
      assert.equal(await httpGet(c.netnsPath!, b.endpoints[0]!.ip), 'straight to b');
      assert.ok((await entries(bridge)).get(cOnN.hostIf)!.bytes > 0);
      await m.disconnect(c.containerId, n.name);
      assert.deepEqual([...(await entries(bridge)).keys()].sort(), [hostIf(a), hostIf(b)].sort());

      await m.releaseSandbox(a.containerId);
      assert.deepEqual([...(await entries(bridge)).keys()], [hostIf(b)]);
    } finally {
      await stopHttpd(h);
      for (const s of [a, b, c]) await m.releaseSandbox(s.containerId);
      await m.remove(n.id);
    }
  });

  it('gives a MAC\'s entry to its new holder, replacing what an earlier one left behind', async () => {
    const bridge = `${env.tag}m`;
    const n = await m.create({ name: `${env.tag}-m`, options: { [OPT_BRIDGE_NAME]: bridge } });
    const mac = '02:42:be:e7:00:01';
    const a = await m.createSandbox(spec('ma', n.name));
    const h = await httpd(a.netnsPath!, 'a again');
    let b: SandboxInfo | undefined;
    try {
      await m.directDeliverySettled();
      // An entry for `mac` that nobody removed, pointing at another container's veth.
      const block = readFileSync(`/sys/class/net/${bridge}/ifindex`, 'utf8').trim();
      const stale = attachLines(Number(block), { hostIf: hostIf(a), mac }).at(-1)!;
      assert.equal((await run('tc', stale.split(' '))).code, 0);
      b = await m.createSandbox(spec('mb', n.name, { endpoints: { [n.name]: { macAddress: mac } } }));
      await m.directDeliverySettled();
      assert.deepEqual(await listed(bridge), [`${hostIf(a)} ${a.endpoints[0]!.mac}`, `${hostIf(b)} ${mac}`].sort());
      assert.equal(await httpGet(b.netnsPath!, a.endpoints[0]!.ip), 'a again');
      assert.ok((await entries(bridge)).get(hostIf(b))!.bytes > 0, 'a → b took the new entry');
    } finally {
      await stopHttpd(h);
      for (const s of [a, b]) if (s) await m.releaseSandbox(s.containerId);
      await m.remove(n.id);
    }
  });

  it('keeps frames on the bridge where its rules must see them: icc=false, the network option, the daemon option', async () => {
    const closed = await m.create({ name: `${env.tag}-i`, options: { [OPT_BRIDGE_NAME]: `${env.tag}i`, [OPT_ICC]: 'false' } });
    const off = await m.create({ name: `${env.tag}-o`, options: { [OPT_BRIDGE_NAME]: `${env.tag}o`, [OPT_DIRECT_DELIVERY]: 'false' } });
    assert.equal(off.options[OPT_DIRECT_DELIVERY], 'false');
    const i1 = await m.createSandbox(spec('i1', closed.name));
    const i2 = await m.createSandbox(spec('i2', closed.name));
    const o1 = await m.createSandbox(spec('o1', off.name));
    const o2 = await m.createSandbox(spec('o2', off.name));
    const hi = await httpd(i2.netnsPath!, 'icc');
    const ho = await httpd(o2.netnsPath!, 'off');
    try {
      await m.directDeliverySettled();
      for (const s of [i1, i2, o1, o2]) assert.equal(await boundBlock(hostIf(s)), undefined);
      assert.equal(await httpGet(o1.netnsPath!, o2.endpoints[0]!.ip), 'off');
      // icc=false is enforced by a FORWARD rule, which sees bridged frames when br_netfilter hands them to iptables.
      if (readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim() === '1') {
        assert.equal(await httpGet(i1.netnsPath!, i2.endpoints[0]!.ip, 80, 1), '');
      }
    } finally {
      await stopHttpd(hi);
      await stopHttpd(ho);
      for (const s of [i1, i2, o1, o2]) await m.releaseSandbox(s.containerId);
      await m.remove(closed.id);
      await m.remove(off.id);
    }
    await assert.rejects(m.create({ name: `${env.tag}-bad`, options: { [OPT_DIRECT_DELIVERY]: 'maybe' } }), /not a boolean/);
  });

  it('rebuilds the blocks after a restart, dropping what does not belong, and unbinds them when turned off', async () => {
    const bridge = `${env.tag}r`;
    const n = await m.create({ name: `${env.tag}-r`, options: { [OPT_BRIDGE_NAME]: bridge } });
    const a = await m.createSandbox(spec('ra', n.name));
    const b = await m.createSandbox(spec('rb', n.name));
    const h = await httpd(b.netnsPath!, 'after restart');
    try {
      // The daemon goes away (live restore); meanwhile a's entry is lost and a stray one appears.
      await m.directDeliverySettled();
      await m.close();
      const block = readFileSync(`/sys/class/net/${bridge}/ifindex`, 'utf8').trim();
      const [lost] = detachLines(Number(block), { hostIf: hostIf(a), mac: a.endpoints[0]!.mac });
      assert.equal((await run('tc', lost!.split(' '))).code, 0);
      const stray = `filter add block ${block} pref 1 protocol all handle 1:ee:fff u32 ht 1:ee: match ether dst 02:42:de:ad:be:ee action mirred egress redirect dev ${hostIf(b)}`;
      assert.equal((await run('tc', stray.split(' '))).code, 0);
      assert.deepEqual(await listed(bridge), [`${hostIf(b)} 02:42:de:ad:be:ee`, `${hostIf(b)} ${b.endpoints[0]!.mac}`].sort());

      m = await env.open();
      assert.deepEqual(await listed(bridge), [`${hostIf(a)} ${a.endpoints[0]!.mac}`, `${hostIf(b)} ${b.endpoints[0]!.mac}`].sort());
      assert.equal(await httpGet(a.netnsPath!, b.endpoints[0]!.ip), 'after restart');
      assert.ok((await entries(bridge)).get(hostIf(b))!.bytes > 0);

      // Turned off daemon-wide: the veths are unbound and the bridge carries the frames.
      await m.close();
      m = await env.open({ directDelivery: false });
      for (const s of [a, b]) assert.equal(await boundBlock(hostIf(s)), undefined);
      assert.equal(await httpGet(a.netnsPath!, b.endpoints[0]!.ip), 'after restart');
      const d = await m.createSandbox(spec('rd', n.name));
      await m.directDeliverySettled();
      assert.equal(await boundBlock(hostIf(d)), undefined);
      await m.releaseSandbox(d.containerId);
    } finally {
      await stopHttpd(h);
      for (const s of [a, b]) await m.releaseSandbox(s.containerId);
      await m.remove(n.id);
    }
    await m.close();
    m = await env.open();
  });

  it('leaves nothing behind', async () => {
    await m.close();
    assert.deepEqual(await env.sweep(), []);
  });
});
