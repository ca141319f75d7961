import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@berth/testing';
import { parseChallenges } from './challenge.ts';
import {
  DOCKER_HUB_SERVER_KEY, chainCredentials, decodeRegistryAuth, decodeRegistryConfig, dockerConfigCredentials,
  encodeRegistryAuth, hostOfServerAddress, serverKey, staticCredentials,
} from './credentials.ts';
import { RegistryHosts } from './hosts.ts';

describe('WWW-Authenticate challenges', () => {
  it('parses a bearer challenge with quoted parameters', () => {
    const c = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"');
    assert.deepEqual(c, [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } }]);
  });

  it('splits several challenges joined in one header and keeps escapes and commas inside quotes', () => {
    const c = parseChallenges('Basic realm="a \\"b\\", c", Bearer realm=https://x/token,service=svc');
    assert.equal(c.length, 2);
    assert.deepEqual(c[0], { scheme: 'basic', params: { realm: 'a "b", c' } });
    assert.deepEqual(c[1], { scheme: 'bearer', params: { realm: 'https://x/token', service: 'svc' } });
  });

  it('accepts repeated header values and token68', () => {
    const c = parseChallenges(['Negotiate abc==', 'Basic realm="r"']);
    assert.deepEqual(c.map((x) => x.scheme), ['negotiate', 'basic']);
    assert.equal(c[0]!.params.token68, 'abc==');
  });
});

describe('X-Registry-Auth', () => {
  it('round-trips base64url JSON as the docker CLI sends it', () => {
    const cfg = { username: 'alice', password: 'p?s>s~', serveraddress: '127.0.0.1:5000' };
    const h = encodeRegistryAuth(cfg);
    assert.doesNotMatch(h, /[+/]/);
    assert.deepEqual(decodeRegistryAuth(h), cfg);
  });

  it('accepts standard base64, unpadded input, raw JSON, any key case, and empty', () => {
    const json = JSON.stringify({ Username: 'bob', Password: 'x', IdentityToken: 't' });
    assert.deepEqual(decodeRegistryAuth(Buffer.from(json).toString('base64').replace(/=+$/, '')), { username: 'bob', password: 'x', identitytoken: 't' });
    assert.deepEqual(decodeRegistryAuth(json), { username: 'bob', password: 'x', identitytoken: 't' });
    assert.deepEqual(decodeRegistryAuth(''), {});
    assert.deepEqual(decodeRegistryAuth(undefined), {});
  });

  it('rejects garbage with a clear error', () => {
    assert.throws(() => decodeRegistryAuth('!!!not-base64-or-json'), { name: 'InvalidArgumentError', message: /^invalid X-Registry-Auth header: / });
    assert.throws(() => decodeRegistryAuth(Buffer.from('[1,2]').toString('base64url')), /not a JSON object/);
  });

  it('decodes X-Registry-Config maps', () => {
    const h = Buffer.from(JSON.stringify({ 'https://index.docker.io/v1/': { username: 'u', password: 'p' } })).toString('base64url');
    assert.deepEqual(decodeRegistryConfig(h), { 'https://index.docker.io/v1/': { username: 'u', password: 'p' } });
  });
});

describe('credential stores', () => {
  it('names registries as config.json does', () => {
    assert.equal(serverKey('docker.io'), DOCKER_HUB_SERVER_KEY);
    assert.equal(serverKey('https://index.docker.io/v1/'), DOCKER_HUB_SERVER_KEY);
    assert.equal(serverKey('registry-1.docker.io'), DOCKER_HUB_SERVER_KEY);
    assert.equal(serverKey('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
    assert.equal(hostOfServerAddress('https://Example.com:443/x'), 'example.com:443');
  });

  it('reads auths (base64 auth, identity tokens) from a docker config.json and follows edits', async () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'config.json');
    const store = dockerConfigCredentials(file);
    assert.equal(await store.get('127.0.0.1:5000'), undefined, 'a missing file means no credentials');
    writeFileSync(file, JSON.stringify({
      auths: {
        'http://127.0.0.1:5000': { auth: Buffer.from('alice:s:e:cret').toString('base64') },
        'https://index.docker.io/v1/': { identitytoken: 'refresh-me' },
      },
    }));
    assert.deepEqual(await store.get('127.0.0.1:5000'), { auth: Buffer.from('alice:s:e:cret').toString('base64'), username: 'alice', password: 's:e:cret', serveraddress: '127.0.0.1:5000' });
    assert.equal((await store.get('docker.io'))?.identitytoken, 'refresh-me');
    assert.equal(await store.get('other:5000'), undefined);
    writeFileSync(file, '{not json');
    await assert.rejects(store.get('127.0.0.1:5000'), { name: 'InvalidArgumentError', message: new RegExp(`read credentials from ${file}`) });
  });

  it('runs credential helpers (credsStore) and chains stores', async () => {
    using dir = tempDir();
    const helper = path.join(dir.path, 'docker-credential-berthtest');
    writeFileSync(helper, '#!/bin/sh\nread host\nif [ "$host" = "reg.example:5000" ]; then echo \'{"ServerURL":"reg.example:5000","Username":"<token>","Secret":"tok"}\'; else echo "credentials not found in native keychain"; exit 1; fi\n', { mode: 0o755 });
    const file = path.join(dir.path, 'config.json');
    writeFileSync(file, JSON.stringify({ credsStore: 'berthtest' }));
    const oldPath = process.env.PATH;
    process.env.PATH = `${dir.path}:${oldPath}`;
    try {
      const chained = chainCredentials(staticCredentials({ 'a:1': { username: 'x', password: 'y' } }), dockerConfigCredentials(file));
      assert.deepEqual(await chained.get('reg.example:5000'), { identitytoken: 'tok', serveraddress: 'reg.example:5000' });
      assert.equal((await chained.get('a:1'))?.username, 'x');
      assert.equal(await chained.get('nothing:1'), undefined);
    } finally {
      process.env.PATH = oldPath;
    }
  });
});

describe('registry endpoints', () => {
  it('serves docker.io from mirrors first (pulls only), then Docker Hub', () => {
    const h = new RegistryHosts({ mirrors: ['http://127.0.0.1:5000', 'mirror.example'] });
    assert.deepEqual(h.endpoints('docker.io', 'pull').map((e) => [e.origin, e.mirror, e.insecureTls]), [
      ['http://127.0.0.1:5000', true, true],
      ['https://mirror.example', true, false],
      ['https://registry-1.docker.io', false, false],
    ]);
    assert.deepEqual(h.endpoints('docker.io', 'push').map((e) => e.origin), ['https://registry-1.docker.io']);
  });

  it('treats loopback, listed hosts and CIDRs as insecure (https without verification, then http)', () => {
    const h = new RegistryHosts({ insecureRegistries: ['myreg:5000', '10.1.0.0/16'] });
    assert.deepEqual(h.endpoints('127.0.0.1:5000', 'pull').map((e) => e.origin), ['https://127.0.0.1:5000', 'http://127.0.0.1:5000']);
    assert.ok(h.isInsecure('localhost:5000'));
    assert.ok(h.isInsecure('[::1]:5000'));
    assert.ok(h.isInsecure('myreg:5000'));
    assert.ok(h.isInsecure('10.1.2.3:443'));
    assert.ok(!h.isInsecure('10.2.0.1:443'));
    assert.deepEqual(h.endpoints('quay.io', 'pull').map((e) => [e.origin, e.insecureTls]), [['https://quay.io', false]]);
    h.markPlainHttp('127.0.0.1:5000');
    assert.deepEqual(h.endpoints('127.0.0.1:5000', 'pull').map((e) => e.origin), ['http://127.0.0.1:5000']);
    h.markPlainHttp('quay.io');
    assert.deepEqual(h.endpoints('quay.io', 'pull').map((e) => e.origin), ['https://quay.io'], 'secure registries never drop TLS');
  });

  it('rejects malformed mirrors', () => {
    assert.throws(() => new RegistryHosts({ mirrors: ['ftp://x'] }), /unsupported scheme/);
  });
});
