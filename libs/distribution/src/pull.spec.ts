// Integration: pulls from the shared loopback registry (read-only) and from private docker-registry
// instances, into real content stores, unpacking with @berth/layer-store's applyLayer.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore, applyLayer } from '@berth/layer-store';
import { SHARED_REGISTRY, freePort, tempDir, waitFor } from '@berth/testing';
import { RegistryClient, type ProgressEvent, type Unpacker } from './index.ts';
import { startProxy } from './test-support.ts';

function dirUnpacker(root: string, applied: string[] = []): Unpacker {
  mkdirSync(root, { recursive: true });
  return {
    async apply(layer, content) {
      await applyLayer(content.stream, root, { expectedDiffID: layer.diffId, compression: 'none' });
      await content.verified;
      applied.push(layer.chainId);
    },
  };
}

describe('pull from the shared registry', () => {
  const dir = tempDir();
  let cs: LocalContentStore;
  const client = new RegistryClient({ mirrors: [`http://${SHARED_REGISTRY}`] });
  before(async () => {
    cs = await LocalContentStore.open(path.join(dir.path, 'content'));
  });
  after(() => {
    client.close();
    dir[Symbol.dispose]();
  });

  it('pulls busybox by its docker.io name through the mirror and unpacks it in the same pass', async () => {
    const events: ProgressEvent[] = [];
    const root = path.join(dir.path, 'busybox');
    const r = await client.pull('busybox', { contentStore: cs, onProgress: (e) => events.push(e), unpack: dirUnpacker(root) });
    assert.equal(r.name, 'docker.io/library/busybox:latest');
    assert.equal(r.target.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(r.layers.length, 1);
    assert.ok(existsSync(path.join(root, 'bin', 'busybox')), 'the rootfs was unpacked');
    for (const d of [r.target.digest, r.config.digest, r.layers[0]!.digest]) await cs.info(d);
    const m = await cs.info(r.manifest.digest);
    assert.equal(m.labels['containerd.io/gc.ref.content.config'], r.config.digest);
    assert.equal(m.labels['containerd.io/gc.ref.content.l.0'], r.layers[0]!.digest);
    assert.equal((await cs.info(r.layers[0]!.digest)).labels['containerd.io/uncompressed'], r.diffIds[0]);
    assert.equal((await cs.info(r.layers[0]!.digest)).labels['containerd.io/distribution.source.docker.io'], 'library/busybox');
    const id = r.layers[0]!.digest.slice(7, 19);
    const statuses = events.filter((e) => e.id === id).map((e) => e.status).filter((s, i, a) => s !== a[i - 1]);
    assert.deepEqual(statuses, ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']);
    assert.deepEqual(events[0], { id: 'latest', status: 'Pulling from library/busybox' });
    assert.deepEqual(events.at(-1), { id: '', status: `Digest: ${r.target.digest}` });
    const dl = events.filter((e) => e.status === 'Downloading').at(-1)!;
    assert.equal(dl.current, r.layers[0]!.size);
    assert.equal(dl.total, r.layers[0]!.size);
    assert.equal(cs.listStatuses !== undefined && (await cs.listStatuses()).length, 0, 'no ingest left behind');
  });

  it('reports layers already in the store as Already exists and downloads nothing', async () => {
    const events: ProgressEvent[] = [];
    const r = await client.pull('busybox:latest', { contentStore: cs, onProgress: (e) => events.push(e) });
    assert.deepEqual(r.downloaded, []);
    assert.ok(events.some((e) => e.status === 'Already exists' && e.id === r.layers[0]!.digest.slice(7, 19)));
  });

  it('pulls hello-world (Docker schema 2) and debian (OCI) by registry name and by digest', async () => {
    const hw = await client.pull(`${SHARED_REGISTRY}/library/hello-world`, { contentStore: cs });
    assert.equal(hw.name, `${SHARED_REGISTRY}/library/hello-world:latest`);
    assert.deepEqual(hw.image.config?.Cmd, ['/hello']);
    const deb = await client.pull(`${SHARED_REGISTRY}/library/debian:latest`, { contentStore: cs });
    assert.equal(deb.target.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal((await cs.info(deb.layers[0]!.digest)).size, deb.layers[0]!.size);
    const byDigest = await client.pull(`${SHARED_REGISTRY}/library/debian@${deb.target.digest}`, { contentStore: cs });
    assert.equal(byDigest.target.digest, deb.target.digest);
    assert.equal(byDigest.name, `${SHARED_REGISTRY}/library/debian@${deb.target.digest}`);
  });

  it('resolves without storing anything', async () => {
    using d2 = tempDir();
    const empty = await LocalContentStore.open(d2.path);
    const r = await client.resolve('hello-world');
    assert.equal(r.name, 'docker.io/library/hello-world:latest');
    assert.equal(r.parsed.layers.length, 1);
    const seen: string[] = [];
    await empty.walk((i) => void seen.push(i.digest));
    assert.deepEqual(seen, []);
  });

  it('says what Docker says for an unknown manifest, a platform mismatch and a dead registry', async () => {
    await assert.rejects(client.pull(`${SHARED_REGISTRY}/library/busybox:nope`, { contentStore: cs }), {
      name: 'NotFoundError', message: `manifest for ${SHARED_REGISTRY}/library/busybox:nope not found: manifest unknown: manifest unknown`,
    });
    await assert.rejects(client.pull('busybox', { contentStore: cs, platform: 'linux/arm64' }), {
      name: 'NotFoundError',
      message: 'image with reference busybox:latest was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64',
    });
    const port = await freePort();
    await assert.rejects(client.pull(`127.0.0.1:${port}/x`, { contentStore: cs }), {
      name: 'UnavailableError', message: `Get "http://127.0.0.1:${port}/v2/": connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  });

  it('falls back from a dead mirror to the next and names both when all fail', async () => {
    const port = await freePort();
    const c2 = new RegistryClient({ mirrors: [`http://127.0.0.1:${port}`, `http://${SHARED_REGISTRY}`] });
    try {
      const r = await c2.pull('hello-world', { contentStore: cs });
      assert.equal(r.name, 'docker.io/library/hello-world:latest');
      await assert.rejects(c2.pull('no-such-image-here', { contentStore: cs }), (err: Error) => {
        assert.equal(err.name, 'NotFoundError');
        assert.match(err.message, /^manifest for no-such-image-here:latest not found: manifest unknown: manifest unknown \(from http:\/\/127\.0\.0\.1:5000; Get "https:\/\/registry-1\.docker\.io\/v2\/": /);
        return true;
      });
    } finally {
      c2.close();
    }
    const c3 = new RegistryClient({ mirrors: [`http://127.0.0.1:${port}`] });
    try {
      await assert.rejects(c3.pull('busybox', { contentStore: cs }), (err: Error) => {
        assert.equal(err.name, 'UnavailableError');
        assert.match(err.message, /^Get "https:\/\/registry-1\.docker\.io\/v2\/": /);
        return true;
      });
    } finally {
      c3.close();
    }
  });

  it('shares one download among concurrent pulls of the same image', async () => {
    using d2 = tempDir();
    const fresh = await LocalContentStore.open(d2.path);
    const proxy = await startProxy(SHARED_REGISTRY);
    const c2 = new RegistryClient();
    try {
      const ref = `${proxy.addr}/library/debian:latest`;
      const results = await Promise.all([1, 2, 3].map(() => c2.pull(ref, { contentStore: fresh })));
      assert.ok(results.every((r) => r.target.digest === results[0]!.target.digest));
      const size = results[0]!.layers[0]!.size;
      assert.ok(proxy.bytesDown < size * 1.2, `${proxy.bytesDown} bytes went through for a ${size}-byte layer`);
      // Different references of the same content (tag and digest) share the in-flight blobs too.
      using d3 = tempDir();
      const fresh2 = await LocalContentStore.open(d3.path);
      const before = proxy.bytesDown;
      await Promise.all([c2.pull(ref, { contentStore: fresh2 }), c2.pull(`${proxy.addr}/library/debian@${results[0]!.target.digest}`, { contentStore: fresh2 })]);
      assert.ok(proxy.bytesDown - before < size * 1.2, `${proxy.bytesDown - before} bytes for the second store`);
    } finally {
      c2.close();
      await proxy.stop();
    }
  });

  it('lists tags and searches a registry without /v1/search through its catalog', async () => {
    assert.deepEqual(await client.listTags(`${SHARED_REGISTRY}/library/busybox`), ['latest']);
    const found = await client.search(`${SHARED_REGISTRY}/busy`);
    assert.deepEqual(found.map((f) => f.name), [`${SHARED_REGISTRY}/library/busybox`]);
  });
});

describe('unpack', () => {
  it('streams the layer whose turn it is and reads the others back, in order', async () => {
    using dir = tempDir();
    const cs = await LocalContentStore.open(path.join(dir.path, 'content'));
    const client = new RegistryClient();
    try {
      const applied: string[] = [];
      const root = path.join(dir.path, 'root');
      const r = await client.pull(`${SHARED_REGISTRY}/library/busybox`, { contentStore: cs, unpack: dirUnpacker(root, applied) });
      assert.deepEqual(applied, r.chainIds);
      assert.ok(readdirSync(root).includes('bin'));
      // exists() skips layers whose result is there already.
      let calls = 0;
      await client.pull(`${SHARED_REGISTRY}/library/busybox`, {
        contentStore: cs,
        unpack: { exists: async () => true, apply: async () => void calls++ },
      });
      assert.equal(calls, 0);
      // A failing unpacker fails the pull, names the layer, and leaves no manifest.
      using d2 = tempDir();
      const cs2 = await LocalContentStore.open(d2.path);
      await assert.rejects(client.pull(`${SHARED_REGISTRY}/library/hello-world`, {
        contentStore: cs2,
        unpack: { apply: async () => { throw new Error('disk on fire'); } },
      }), (err: Error) => {
        assert.match(err.message, /^pull .*hello-world:latest: layer [0-9a-f]{12} \(sha256:[0-9a-f]{64}\): unpack: disk on fire$/);
        return true;
      });
      const left: string[] = [];
      await cs2.walk((i) => void left.push(i.digest));
      const res = await client.resolve(`${SHARED_REGISTRY}/library/hello-world`);
      assert.ok(!left.includes(res.target.digest), 'no manifest stored for a failed pull');
    } finally {
      client.close();
    }
  });

  it('finishes a download whose extraction has not read yet, and the extraction reads the rest from the store', { timeout: 120_000 }, async () => {
    using dir = tempDir();
    const cs = await LocalContentStore.open(path.join(dir.path, 'content'));
    const client = new RegistryClient();
    try {
      const root = path.join(dir.path, 'root');
      mkdirSync(root);
      let storedFirst = false;
      // debian's layer (~50 MB compressed) is far more than a feed holds in memory: the download must run on
      // into the store while this apply does not read at all (before, the download waited for it: a deadlock).
      const r = await client.pull(`${SHARED_REGISTRY}/library/debian:latest`, {
        contentStore: cs,
        unpack: {
          async apply(layer, content) {
            await waitFor(async () => (await cs.info(layer.descriptor.digest).catch(() => undefined)) !== undefined, 'the layer blob stored', 60_000);
            storedFirst = true;
            await applyLayer(content.stream, root, { expectedDiffID: layer.diffId, compression: 'none' });
            await content.verified;
          },
        },
      });
      assert.ok(storedFirst);
      assert.equal(r.layers.length, 1);
      assert.ok(existsSync(path.join(root, 'etc', 'debian_version')));
    } finally {
      client.close();
    }
  });
});
