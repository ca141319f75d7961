// Integration: registries with htpasswd (Basic) and token (Bearer) auth, started per suite.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore } from '@berth/layer-store';
import { startRegistry, tempDir, type PrivateRegistry } from '@berth/testing';
import { RegistryClient, encodeRegistryAuth, decodeRegistryAuth, staticCredentials } from './index.ts';
import { buildImage, randomLayer, startTokenServer, writeHtpasswd, type TokenServer } from './test-support.ts';

describe('registry with htpasswd basic auth', () => {
  const dir = tempDir();
  let reg: PrivateRegistry;
  let cs: LocalContentStore;
  let image: Awaited<ReturnType<typeof buildImage>>;
  before(async () => {
    reg = await startRegistry(path.join(dir.path, 'reg'), { htpasswd: writeHtpasswd(path.join(dir.path, 'htpasswd'), 'alice', 's3cret') });
    cs = await LocalContentStore.open(path.join(dir.path, 'content'));
    image = await buildImage(cs, [await randomLayer('a', 4096)]);
  });
  after(async () => {
    await reg.stop();
    dir[Symbol.dispose]();
  });

  it('pushes and pulls with credentials from the client store', async () => {
    const client = new RegistryClient({ credentials: staticCredentials({ [reg.addr]: { username: 'alice', password: 's3cret' } }) });
    try {
      const pushed = await client.push(`${reg.addr}/team/app:1.0`, { contentStore: cs, target: image.manifest });
      assert.equal(pushed.digest, image.manifest.digest);
      assert.equal(pushed.tag, '1.0');
      using d2 = tempDir();
      const cs2 = await LocalContentStore.open(d2.path);
      const r = await client.pull(`${reg.addr}/team/app:1.0`, { contentStore: cs2 });
      assert.equal(r.target.digest, image.manifest.digest);
    } finally {
      client.close();
    }
  });

  it('uses a call\'s own credentials (X-Registry-Auth) over none in the store', async () => {
    const client = new RegistryClient();
    try {
      const auth = decodeRegistryAuth(encodeRegistryAuth({ username: 'alice', password: 's3cret', serveraddress: reg.addr }));
      const r = await client.resolve(`${reg.addr}/team/app:1.0`, { auth });
      assert.equal(r.target.digest, image.manifest.digest);
    } finally {
      client.close();
    }
  });

  it('fails without credentials, and with wrong ones, as Docker does', async () => {
    const client = new RegistryClient();
    try {
      await assert.rejects(client.pull(`${reg.addr}/team/app:1.0`, { contentStore: cs }), {
        name: 'UnauthorizedError', message: `Get "http://${reg.addr}/v2/team/app/manifests/1.0": no basic auth credentials`,
      });
      await assert.rejects(client.pull(`${reg.addr}/team/app:1.0`, { contentStore: cs, auth: { username: 'alice', password: 'wrong' } }), {
        name: 'UnauthorizedError', message: 'unauthorized: authentication required',
      });
      await assert.rejects(client.push(`${reg.addr}/team/app:2.0`, { contentStore: cs, target: image.manifest, auth: { username: 'mallory', password: 'x' } }), {
        name: 'UnauthorizedError',
      });
    } finally {
      client.close();
    }
  });

  it('checks logins', async () => {
    const client = new RegistryClient();
    try {
      assert.deepEqual(await client.checkLogin(reg.addr, { username: 'alice', password: 's3cret' }), { status: 'Login Succeeded' });
      assert.deepEqual(await client.checkLogin(`http://${reg.addr}/`, { auth: Buffer.from('alice:s3cret').toString('base64') }), { status: 'Login Succeeded' });
      await assert.rejects(client.checkLogin(reg.addr, { username: 'alice', password: 'nope' }), {
        name: 'UnauthorizedError', message: `login attempt to http://${reg.addr}/v2/ failed with status: 401 Unauthorized`,
      });
    } finally {
      client.close();
    }
  });
});

describe('registry with token auth', () => {
  const dir = tempDir();
  let reg: PrivateRegistry;
  let tokens: TokenServer;
  let cs: LocalContentStore;
  let image: Awaited<ReturnType<typeof buildImage>>;
  before(async () => {
    tokens = await startTokenServer(dir.path, { alice: 's3cret' }, { publicPrefix: 'public/' });
    reg = await startRegistry(path.join(dir.path, 'reg'), { extraYaml: tokens.yaml });
    cs = await LocalContentStore.open(path.join(dir.path, 'content'));
    image = await buildImage(cs, [await randomLayer('a', 4096), await randomLayer('b', 8192)]);
  });
  after(async () => {
    await reg.stop();
    await tokens.stop();
    dir[Symbol.dispose]();
  });

  it('gets tokens for the scopes of each operation and caches them', async () => {
    const client = new RegistryClient({ credentials: { [reg.addr]: { username: 'alice', password: 's3cret' } } });
    try {
      await client.push(`${reg.addr}/public/app:latest`, { contentStore: cs, target: image.manifest });
      await client.push(`${reg.addr}/private/app:latest`, { contentStore: cs, target: image.manifest });
      assert.ok(tokens.requests.includes('GET account=alice scope=repository:public/app:pull,push'), tokens.requests.join('\n'));
      // The second push mounted the blobs from the first repository: it asked for pull on that too.
      assert.ok(tokens.requests.some((r) => r.includes('repository:private/app:pull,push') && r.includes('repository:public/app:pull')), tokens.requests.join('\n'));
      const n = tokens.requests.length;
      await client.resolve(`${reg.addr}/private/app:latest`);
      await client.resolve(`${reg.addr}/private/app:latest`);
      assert.equal(tokens.requests.length, n + 1, 'one token for two resolves');
    } finally {
      client.close();
    }
  });

  it('lets anonymous clients pull what the token server allows and refuses the rest', async () => {
    const client = new RegistryClient();
    try {
      using d2 = tempDir();
      const cs2 = await LocalContentStore.open(d2.path);
      const r = await client.pull(`${reg.addr}/public/app`, { contentStore: cs2 });
      assert.equal(r.layers.length, 2);
      await assert.rejects(client.pull(`${reg.addr}/private/app`, { contentStore: cs2 }), {
        name: 'NotFoundError',
        message: `pull access denied for ${reg.addr}/private/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
      });
    } finally {
      client.close();
    }
  });

  it('logs in for an identity token that later pulls use instead of the password', async () => {
    const client = new RegistryClient();
    try {
      const login = await client.checkLogin(reg.addr, { username: 'alice', password: 's3cret' });
      assert.equal(login.status, 'Login Succeeded');
      assert.match(login.identityToken ?? '', /^[0-9a-f]{32}$/);
      const r = await client.resolve(`${reg.addr}/private/app`, { auth: { identitytoken: login.identityToken! } });
      assert.equal(r.target.digest, image.manifest.digest);
      assert.ok(tokens.requests.some((x) => x.startsWith('POST grant=refresh_token scope=repository:private/app:pull')));
      await assert.rejects(client.checkLogin(reg.addr, { username: 'alice', password: 'wrong' }), {
        name: 'UnauthorizedError', message: `Get "http://${reg.addr}/v2/": unauthorized: incorrect username or password`,
      });
      await assert.rejects(client.resolve(`${reg.addr}/private/app`, { auth: { username: 'alice', password: 'wrong' } }), {
        name: 'UnauthorizedError', message: `Get "http://${reg.addr}/v2/private/app/manifests/latest": unauthorized: incorrect username or password`,
      });
    } finally {
      client.close();
    }
  });
});
