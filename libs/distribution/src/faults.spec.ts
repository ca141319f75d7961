// Integration: pulls that meet a killed registry, corrupted blobs, truncated bodies and rate limits.
import assert from 'node:assert/strict';
import { openSync, readSync, writeSync, closeSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore } from '@berth/layer-store';
import { startRegistry, tempDir, type PrivateRegistry } from '@berth/testing';
import { RegistryClient, type ProgressEvent } from './index.ts';
import { buildImage, randomLayer, registryBlobFile, startFaultProxy, startProxy } from './test-support.ts';

async function contents(cs: LocalContentStore): Promise<{ blobs: string[]; ingests: number }> {
  const blobs: string[] = [];
  await cs.walk((i) => void blobs.push(i.digest));
  return { blobs, ingests: (await cs.listStatuses()).length };
}

describe('pull faults', () => {
  const dir = tempDir();
  let reg: PrivateRegistry;
  let image: Awaited<ReturnType<typeof buildImage>>;
  const big = 24 << 20;
  before(async () => {
    reg = await startRegistry(path.join(dir.path, 'reg'));
    const src = await LocalContentStore.open(path.join(dir.path, 'src'));
    image = await buildImage(src, [await randomLayer('small', 1000), await randomLayer('big', big)]);
    const client = new RegistryClient();
    await client.push(`${reg.addr}/faults/app:latest`, { contentStore: src, target: image.manifest });
    client.close();
  });
  after(async () => {
    await reg.stop();
    dir[Symbol.dispose]();
  });

  it('resumes with Range after the registry is killed mid-pull and comes back', async () => {
    const proxy = await startProxy(reg.addr, 8 << 20);
    const client = new RegistryClient({ retryDelayMs: 200, maxAttempts: 6 });
    using d = tempDir();
    const cs = await LocalContentStore.open(d.path);
    let killed = false;
    let second: PrivateRegistry | undefined;
    const events: ProgressEvent[] = [];
    try {
      const r = await client.pull(`${proxy.addr}/faults/app:latest`, {
        contentStore: cs,
        onProgress: (e) => {
          events.push(e);
          if (!killed && e.status === 'Downloading' && (e.current ?? 0) > 4 << 20) {
            killed = true;
            reg.process.kill('SIGKILL');
            // The same storage, served again on another port behind the same proxy address.
            void startRegistry(path.join(dir.path, 'reg')).then((r2) => {
              second = r2;
              proxy.setTarget(r2.addr);
            });
          }
        },
      });
      assert.ok(killed, 'the registry was killed during the download');
      assert.equal(r.layers.length, 2);
      assert.ok(events.some((e) => e.status.startsWith('Retrying in')), 'progress said it retried');
      assert.ok(proxy.bytesDown < big * 1.4, `resumed rather than restarted: ${proxy.bytesDown} bytes for a ${big}-byte layer`);
      assert.equal((await contents(cs)).ingests, 0);
    } finally {
      client.close();
      await proxy.stop();
      if (second) {
        // Later tests use the original handle's address; keep the restarted registry as `reg`.
        reg = second;
      }
    }
  });

  it('gives up with a clear error when the registry stays down, storing no manifest and no ingest', async () => {
    const proxy = await startProxy(reg.addr, 8 << 20);
    const client = new RegistryClient({ retryDelayMs: 100, maxAttempts: 3 });
    using d = tempDir();
    const cs = await LocalContentStore.open(d.path);
    let killed = false;
    try {
      await assert.rejects(client.pull(`${proxy.addr}/faults/app:latest`, {
        contentStore: cs,
        onProgress: (e) => {
          if (!killed && e.status === 'Downloading' && (e.current ?? 0) > 2 << 20) {
            killed = true;
            reg.process.kill('SIGKILL');
          }
        },
      }), (err: Error) => {
        assert.equal(err.name, 'UnavailableError');
        assert.match(err.message, new RegExp(`^pull ${proxy.addr}/faults/app:latest: layer [0-9a-f]{12} \\(sha256:[0-9a-f]{64}\\): Get "http://${proxy.addr}/v2/faults/app/blobs/sha256:[0-9a-f]{64}": `));
        return true;
      });
      const c = await contents(cs);
      assert.equal(c.ingests, 0, 'no ingest left');
      assert.ok(!c.blobs.includes(image.manifest.digest), 'no manifest stored');
      assert.ok(!c.blobs.includes(image.layers[1]!.digest), 'the interrupted layer is not stored');
    } finally {
      client.close();
      await proxy.stop();
      reg = await startRegistry(path.join(dir.path, 'reg'));
    }
  });

  it('detects a corrupted blob and stores none of it', async () => {
    const file = registryBlobFile(path.join(dir.path, 'reg'), image.layers[0]!.digest);
    const fd = openSync(file, 'r+');
    const b = Buffer.alloc(1);
    const pos = statSync(file).size - 20;
    readSync(fd, b, 0, 1, pos);
    const orig = b[0]!;
    b[0] = orig ^ 0xff;
    writeSync(fd, b, 0, 1, pos);
    const client = new RegistryClient();
    using d = tempDir();
    const cs = await LocalContentStore.open(d.path);
    try {
      await assert.rejects(client.pull(`${reg.addr}/faults/app:latest`, { contentStore: cs }), (err: Error) => {
        assert.equal(err.name, 'FailedPreconditionError');
        assert.match(err.message, new RegExp(`layer ${image.layers[0]!.digest.slice(7, 19)} \\(${image.layers[0]!.digest}\\): .*unexpected commit digest sha256:[0-9a-f]{64}, expected ${image.layers[0]!.digest}`));
        return true;
      });
      const c = await contents(cs);
      assert.ok(!c.blobs.includes(image.layers[0]!.digest), 'the corrupted blob is not stored');
      assert.ok(!c.blobs.includes(image.manifest.digest), 'no manifest stored');
      assert.equal(c.ingests, 0);
    } finally {
      b[0] = orig;
      writeSync(fd, b, 0, 1, pos);
      closeSync(fd);
      client.close();
    }
  });

  it('resumes a truncated body with a Range request', async () => {
    let cuts = 0;
    const proxy = await startFaultProxy(reg.addr, {
      cut: (m, url) => (m === 'GET' && url.includes(image.layers[1]!.digest) && cuts++ === 0 ? 3 << 20 : undefined),
    });
    const client = new RegistryClient({ retryDelayMs: 50 });
    using d = tempDir();
    const cs = await LocalContentStore.open(d.path);
    try {
      const r = await client.pull(`${proxy.addr}/faults/app:latest`, { contentStore: cs });
      assert.equal(r.layers.length, 2);
      const ranged = proxy.requests.filter((x) => x.includes(image.layers[1]!.digest) && x.includes('Range=bytes='));
      assert.equal(ranged.length, 1, proxy.requests.join('\n'));
      assert.match(ranged[0]!, /Range=bytes=\d+-$/);
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it('gives up on a body that keeps breaking off, naming the layer', async () => {
    const proxy = await startFaultProxy(reg.addr, { cut: (m, url) => (m === 'GET' && url.includes(image.layers[1]!.digest) ? 1 << 20 : undefined) });
    const client = new RegistryClient({ retryDelayMs: 20, maxAttempts: 3 });
    using d = tempDir();
    const cs = await LocalContentStore.open(d.path);
    try {
      await assert.rejects(client.pull(`${proxy.addr}/faults/app:latest`, { contentStore: cs }), (err: Error) => {
        assert.equal(err.name, 'UnavailableError');
        assert.match(err.message, new RegExp(`^pull ${proxy.addr}/faults/app:latest: layer ${image.layers[1]!.digest.slice(7, 19)} \\(${image.layers[1]!.digest}\\): unexpected end of body after \\d+ of ${image.layers[1]!.size} bytes`));
        return true;
      });
      assert.equal(proxy.requests.filter((x) => x.includes(image.layers[1]!.digest)).length, 3, 'three attempts');
      const c = await contents(cs);
      assert.equal(c.ingests, 0);
      assert.ok(!c.blobs.includes(image.manifest.digest));
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it('retries 429 and 5xx on blobs, and reports a rate-limited manifest as Docker does', async () => {
    let blobFaults = 0;
    const proxy = await startFaultProxy(reg.addr, {
      fault: (m, url) => {
        if (url.includes('/manifests/limited')) {
          return { status: 429, body: JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit.' }] }) };
        }
        if (url.includes('/blobs/') && blobFaults < 2) return { status: blobFaults++ === 0 ? 429 : 503 };
        return undefined;
      },
    });
    const client = new RegistryClient({ retryDelayMs: 50 });
    using d = tempDir();
    const cs = await LocalContentStore.open(d.path);
    try {
      const r = await client.pull(`${proxy.addr}/faults/app:latest`, { contentStore: cs });
      assert.equal(r.layers.length, 2);
      assert.equal(blobFaults, 2);
      await assert.rejects(client.pull(`${proxy.addr}/faults/app:limited`, { contentStore: cs }), {
        name: 'ResourceExhaustedError', message: 'toomanyrequests: You have reached your pull rate limit.',
      });
    } finally {
      client.close();
      await proxy.stop();
    }
  });
});
