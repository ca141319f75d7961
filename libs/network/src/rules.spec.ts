import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chainNames, jumpRules, renderPurge, renderRules } from './rules.ts';

describe('iptables rules', () => {
  const c = chainNames('BT-1');
  const model = {
    networks: [
      { bridge: 'bt0', subnet: '10.1.0.0/24', gateway: '10.1.0.1', internal: false, icc: true, masquerade: true },
      { bridge: 'bt1', subnet: '10.2.0.0/24', gateway: '10.2.0.1', internal: true, icc: false, masquerade: true, dnsPort: 53 },
    ],
    ports: [{ bridge: 'bt0', proto: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 8080, containerIp: '10.1.0.2', containerPort: 80 }],
    userlandProxy: true,
    loopbackDnat: false,
  };

  it('declares every chain (so a --noflush restore replaces its content) and confines rules to them', () => {
    const text = renderRules(c, model);
    for (const ch of [c.forward, c.isolation, c.isolation2, c.input, c.dnat, c.postrouting]) assert.match(text, new RegExp(`^:${ch} - \\[0:0\\]$`, 'm'));
    for (const line of text.split('\n').filter((l) => l.startsWith('-'))) assert.match(line, /^-A BT-1-/);
    assert.equal(text.match(/^COMMIT$/gm)?.length, 2);
  });

  it('isolates bridges, masquerades external traffic, publishes ports, and closes internal networks', () => {
    const text = renderRules(c, model);
    assert.match(text, /-A BT-1-ISOLATION -i bt0 ! -o bt0 -j BT-1-ISOLATION2/);
    assert.match(text, /-A BT-1-ISOLATION2 -o bt1 -j DROP/);
    assert.match(text, /-A BT-1-POSTROUTING -s 10.1.0.0\/24 ! -o bt0 -j MASQUERADE/);
    assert.doesNotMatch(text, /-s 10.2.0.0\/24 ! -o bt1 -j MASQUERADE/);
    assert.match(text, /-A BT-1-DNAT ! -i bt0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:80/);
    assert.match(text, /-A BT-1-FORWARD ! -i bt0 -o bt0 -m conntrack --ctstate DNAT -j ACCEPT/);
    const nat = renderRules(c, model, [], ['nat']);
    assert.doesNotMatch(nat, /\*filter/);
    assert.match(nat, /--to-destination 10.1.0.2:80/);
    assert.match(text, /-A BT-1-FORWARD -i bt1 ! -o bt1 -j DROP/);
    assert.match(text, /-A BT-1-FORWARD -i bt1 -o bt1 -j DROP/);
    assert.match(text, /-A BT-1-INPUT -i bt1 -d 10.2.0.1\/32 -p udp -m udp --dport 53 -j ACCEPT/);
    assert.match(text, /-A BT-1-DNAT -i bt0 -j RETURN/);
  });

  it('accepts same-bridge traffic of icc networks before the isolation chain and the conntrack matches', () => {
    const forward = renderRules(c, model).split('\n').filter((l) => l.startsWith(`-A ${c.forward} `));
    assert.equal(forward[0], '-A BT-1-FORWARD -i bt0 -o bt0 -j ACCEPT');
    assert.equal(forward[1], '-A BT-1-FORWARD -j BT-1-ISOLATION');
    assert.equal(forward.filter((l) => l.startsWith('-A BT-1-FORWARD -i bt0 -o bt0 ')).length, 1);
    // without icc, same-bridge traffic is dropped (after the established accept, as before)
    assert.ok(forward.indexOf('-A BT-1-FORWARD -i bt1 -o bt1 -j DROP') > 1);
    assert.ok(!forward.some((l) => l.includes('-i bt1 -o bt1 -j ACCEPT')));
  });

  it('without the userland proxy, masquerades hairpin traffic; with loopback DNAT, guards the bridges\' 127/8 routing', () => {
    const text = renderRules(c, { ...model, userlandProxy: false, loopbackDnat: true });
    assert.doesNotMatch(text, /-j RETURN/);
    assert.match(text, /-A BT-1-POSTROUTING -s 10.1.0.2\/32 -d 10.1.0.2\/32 -p tcp -m tcp --dport 80 -j MASQUERADE/);
    assert.match(text, /-A BT-1-INPUT -i bt0 -d 127.0.0.0\/8 -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP/);
    assert.match(text, /-A BT-1-POSTROUTING -s 127.0.0.0\/8 -o bt0 -j MASQUERADE/);
    assert.ok(jumpRules(c, true).some(([t, ch, spec]) => t === 'nat' && ch === 'OUTPUT' && !spec.includes('127.0.0.0/8')));
    assert.ok(jumpRules(c, false).some(([t, ch, spec]) => t === 'nat' && ch === 'OUTPUT' && spec.includes('! -d 127.0.0.0/8')));
    assert.doesNotMatch(renderRules(c, model), /127\.0\.0\.0\/8/);
  });

  it('inserts missing jumps in the same transaction and purges only what exists', () => {
    const text = renderRules(c, model, jumpRules(c, false));
    assert.match(text, /^-I FORWARD 1 -j BT-1-FORWARD$/m);
    assert.match(text, /^-I OUTPUT 1 ! -d 127.0.0.0\/8 -m addrtype --dst-type LOCAL -j BT-1-DNAT$/m);
    const purge = renderPurge(c, [['filter', 'FORWARD', `-j ${c.forward}`]], new Set([`filter:${c.forward}`, `nat:${c.dnat}`]));
    assert.match(purge, /-D FORWARD -j BT-1-FORWARD\n-F BT-1-FORWARD\n-X BT-1-FORWARD/);
    assert.match(purge, /\*nat\n-F BT-1-DNAT\n-X BT-1-DNAT\nCOMMIT/);
    assert.equal(renderPurge(c, [], new Set()), '');
  });
});
