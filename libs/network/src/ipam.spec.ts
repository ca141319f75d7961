import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isConflict, isInvalidArgument } from '@berth/errdefs';
import { AddressPool, choosePool, DEFAULT_POOLS } from './ipam.ts';
import { formatCidr4, formatIp4, overlaps, parseCidr4, parseIp4, subdivide } from './ipv4.ts';
import { hostRoutes } from './host-routes.ts';

describe('ipv4', () => {
  it('parses and formats addresses and prefixes', () => {
    assert.equal(formatIp4(parseIp4('10.200.3.1')), '10.200.3.1');
    assert.equal(parseIp4('255.255.255.255'), 0xffffffff);
    assert.throws(() => parseIp4('10.0.0.256'), (e) => isInvalidArgument(e));
    assert.throws(() => parseIp4('10.0.0'), (e) => isInvalidArgument(e));
    assert.throws(() => parseIp4('010.0.0.1'), (e) => isInvalidArgument(e));
    assert.equal(formatCidr4(parseCidr4('10.1.2.3/16')), '10.1.0.0/16');
    assert.throws(() => parseCidr4('10.1.2.3/16', true), /host bits set/);
    assert.throws(() => parseCidr4('10.1.2.0/33'), (e) => isInvalidArgument(e));
  });

  it('tells overlapping prefixes', () => {
    assert.ok(overlaps(parseCidr4('10.0.0.0/8'), parseCidr4('10.3.0.0/16')));
    assert.ok(overlaps(parseCidr4('10.3.0.0/16'), parseCidr4('10.0.0.0/8')));
    assert.ok(!overlaps(parseCidr4('10.3.0.0/16'), parseCidr4('10.4.0.0/16')));
    assert.deepEqual([...subdivide(parseCidr4('192.168.0.0/19'), 20)].map(formatCidr4), ['192.168.0.0/20', '192.168.16.0/20']);
  });
});

describe('AddressPool', () => {
  const pool = () => new AddressPool({ subnet: parseCidr4('10.9.8.0/29'), gateway: parseIp4('10.9.8.1') }, 'n1');

  it('hands out the subnet in order, skipping network, gateway and broadcast, and never twice', () => {
    const p = pool();
    const got = [1, 2, 3, 4, 5].map(() => formatIp4(p.allocate()));
    assert.deepEqual(got, ['10.9.8.2', '10.9.8.3', '10.9.8.4', '10.9.8.5', '10.9.8.6']);
    assert.throws(() => p.allocate(), /no available IPv4 addresses on this network's address pools: n1/);
  });

  it('does not reuse a released address at once', () => {
    const p = pool();
    const a = p.allocate();
    p.allocate();
    p.release(a);
    assert.equal(formatIp4(p.allocate()), '10.9.8.4');
  });

  it('refuses static addresses that are taken or outside the subnet', () => {
    const p = pool();
    assert.equal(formatIp4(p.allocate(parseIp4('10.9.8.5'))), '10.9.8.5');
    assert.throws(() => p.allocate(parseIp4('10.9.8.5')), (e) => isConflict(e));
    assert.throws(() => p.allocate(parseIp4('10.9.8.1')), (e) => isConflict(e));
    assert.throws(() => p.allocate(parseIp4('10.9.9.5')), /does not belong to any of this network's subnets/);
  });

  it('keeps dynamic allocations inside the ip-range and honours reserved addresses', () => {
    const p = new AddressPool({
      subnet: parseCidr4('10.9.0.0/16'), gateway: parseIp4('10.9.0.1'), range: parseCidr4('10.9.5.0/30'), reserved: [parseIp4('10.9.5.1')],
    });
    // The range's own first address is usable (only the subnet's network and broadcast addresses are not).
    assert.deepEqual([p.allocate(), p.allocate(), p.allocate()].map(formatIp4), ['10.9.5.2', '10.9.5.3', '10.9.5.0']);
    assert.throws(() => p.allocate(), /no available IPv4 addresses/);
    assert.equal(formatIp4(p.allocate(parseIp4('10.9.200.7'))), '10.9.200.7');
  });

  it('rejects a range outside the subnet or a gateway outside it', () => {
    assert.throws(() => new AddressPool({ subnet: parseCidr4('10.9.0.0/24'), gateway: parseIp4('10.9.0.1'), range: parseCidr4('10.8.0.0/24') }));
    assert.throws(() => new AddressPool({ subnet: parseCidr4('10.9.0.0/24'), gateway: parseIp4('10.8.0.1') }));
  });
});

describe('choosePool', () => {
  it('takes the first default pool that overlaps nothing taken', () => {
    assert.equal(formatCidr4(choosePool(DEFAULT_POOLS, [])), '172.17.0.0/16');
    assert.equal(formatCidr4(choosePool(DEFAULT_POOLS, [parseCidr4('172.17.5.0/24'), parseCidr4('172.18.0.0/16')])), '172.19.0.0/16');
    assert.equal(formatCidr4(choosePool(DEFAULT_POOLS, [parseCidr4('172.16.0.0/12')])), '192.168.0.0/20');
    assert.throws(() => choosePool(DEFAULT_POOLS, [parseCidr4('0.0.0.0/0')]), /could not find an available, non-overlapping IPv4 address pool/);
  });

  it('reads the host routes (the machine has at least one non-default route)', () => {
    const routes = hostRoutes();
    assert.ok(routes.length > 0);
    assert.ok(routes.every((r) => r.prefixLen > 0 && r.prefixLen <= 32 && r.iface));
  });
});
