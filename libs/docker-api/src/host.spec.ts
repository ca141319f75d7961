import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_HOST, parseHost, selectHost } from './host.ts';

test('parseHost: docker address forms', () => {
  assert.deepEqual(parseHost('unix:///run/berth/berthd.sock'), { kind: 'unix', path: '/run/berth/berthd.sock', url: 'unix:///run/berth/berthd.sock' });
  assert.deepEqual(parseHost('/var/run/docker.sock'), { kind: 'unix', path: '/var/run/docker.sock', url: 'unix:///var/run/docker.sock' });
  assert.deepEqual(parseHost('tcp://10.0.0.1:2375'), { kind: 'tcp', hostname: '10.0.0.1', port: 2375, tls: false, url: 'tcp://10.0.0.1:2375' });
  assert.deepEqual(parseHost('tcp://example.com', true), { kind: 'tcp', hostname: 'example.com', port: 2376, tls: true, url: 'tcp://example.com:2376' });
  assert.deepEqual(parseHost('https://[::1]:9000'), { kind: 'tcp', hostname: '::1', port: 9000, tls: true, url: 'tcp://[::1]:9000' });
  assert.deepEqual(parseHost('localhost:1234'), { kind: 'tcp', hostname: 'localhost', port: 1234, tls: false, url: 'tcp://localhost:1234' });
  assert.equal(parseHost('tcp://:2375').kind === 'tcp' && (parseHost('tcp://:2375') as { hostname: string }).hostname, '127.0.0.1');
});

test('parseHost: bad addresses are invalid arguments', () => {
  assert.throws(() => parseHost(''), /empty address/);
  assert.throws(() => parseHost('ssh://me@host'), /unsupported protocol "ssh"/);
  assert.throws(() => parseHost('tcp://host:notaport'), /invalid port/);
  assert.throws(() => parseHost('unix://relative.sock'), /must be absolute/);
});

test('selectHost: flag, BERTH_HOST, DOCKER_HOST, default', () => {
  assert.equal(selectHost('tcp://a:1', { BERTH_HOST: 'tcp://b:1', DOCKER_HOST: 'tcp://c:1' }), 'tcp://a:1');
  assert.equal(selectHost(undefined, { BERTH_HOST: 'tcp://b:1', DOCKER_HOST: 'tcp://c:1' }), 'tcp://b:1');
  assert.equal(selectHost(undefined, { DOCKER_HOST: 'tcp://c:1' }), 'tcp://c:1');
  assert.equal(selectHost(undefined, {}), DEFAULT_HOST);
});
