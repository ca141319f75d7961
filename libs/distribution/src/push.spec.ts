// Integration: pushes to a private docker-registry, read back by berth and by skopeo; multi-platform
// indexes made by hand and copied in by skopeo.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore, applyLayer, childGcLabels } from '@berth/layer-store';
import {
  type Descriptor, type ImageIndex, MediaTypeImageIndex, digestOf,
} from '@berth/oci';
import { run, startRegistry, tempDir, type PrivateRegistry } from '@berth/testing';
import { RegistryClient, exportOciLayout, importOciLayout, type ProgressEvent } from './index.ts';
import { blobStoreOf } from './content.ts';
import { buildImage, randomLayer, tarOf } from './test-support.ts';

describe('push', () => {
  const dir = tempDir();
  let reg: PrivateRegistry;
  let cs: LocalContentStore;
  let image: Awaited<ReturnType<typeof buildImage>>;
  const client = new RegistryClient({ chunkSize: 1 << 20 });
  before(async () => {
    reg = await startRegistry(path.join(dir.path, 'reg'));
    cs = await LocalContentStore.open(path.join(dir.path, 'content'));
    image = await buildImage(cs, [
      await tarOf([{ name: 'etc/', type: 'dir' }, { name: 'etc/hello.txt', body: Buffer.from('hello from berth\n') }]),
      await randomLayer('big', 3 << 20),
      await tarOf([{ name: 'etc/.wh.hello.txt', body: Buffer.alloc(0) }, { name: 'etc/bye.txt', body: Buffer.from('bye\n') }]),
    ], { cmd: ['/bin/true'] });
  });
  after(async () => {
    client.close();
    await reg.stop();
    dir[Symbol.dispose]();
  });

  it('pushes blobs (chunked above chunkSize), then the manifest, and reports Docker\'s statuses', async () => {
    const events: ProgressEvent[] = [];
    const r = await client.push(`${reg.addr}/berth/app:v1`, { contentStore: cs, target: image.manifest, onProgress: (e) => events.push(e) });
    assert.deepEqual(r, { name: `${reg.addr}/berth/app:v1`, tag: 'v1', digest: image.manifest.digest, size: image.manifest.size, mediaType: image.manifest.mediaType });
    for (const l of image.layers) {
      const s = events.filter((e) => e.digest === l.digest).map((e) => e.status).filter((x, i, a) => x !== a[i - 1]);
      assert.deepEqual(s, ['Preparing', 'Pushing', 'Pushed']);
    }
    assert.ok(!events.some((e) => e.digest === image.config.digest), 'the config gets no progress lines, as in Docker');
    const inspect = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.addr}/berth/app:v1`]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const info = JSON.parse(inspect.stdout) as { Digest: string; Layers: string[] };
    assert.equal(info.Digest, image.manifest.digest);
    assert.deepEqual(info.Layers, image.layers.map((l) => l.digest));
  });

  it('skips what the registry has and mounts from another repository', async () => {
    const again: ProgressEvent[] = [];
    await client.push(`${reg.addr}/berth/app:v1`, { contentStore: cs, target: image.manifest, onProgress: (e) => again.push(e) });
    assert.deepEqual([...new Set(again.filter((e) => e.id).map((e) => e.status))], ['Preparing', 'Layer already exists']);
    const other: ProgressEvent[] = [];
    await client.push(`${reg.addr}/other/copy:latest`, { contentStore: cs, target: image.manifest, onProgress: (e) => other.push(e) });
    assert.deepEqual([...new Set(other.filter((e) => e.id).map((e) => e.status))], ['Preparing', 'Mounted from berth/app']);
  });

  it('pulls it back and unpacks the layers in order, whiteouts applied', async () => {
    using d = tempDir();
    const cs2 = await LocalContentStore.open(path.join(d.path, 'c'));
    const root = path.join(d.path, 'root');
    mkdirSync(root);
    const order: number[] = [];
    const r = await client.pull(`${reg.addr}/other/copy`, {
      contentStore: cs2,
      unpack: {
        async apply(layer, content) {
          order.push(layer.index);
          await applyLayer(content.stream, root, { expectedDiffID: layer.diffId, compression: 'none' });
          await content.verified;
        },
      },
    });
    assert.deepEqual(order, [0, 1, 2]);
    assert.equal(r.target.digest, image.manifest.digest);
    assert.equal(readFileSync(path.join(root, 'etc/bye.txt'), 'utf8'), 'bye\n');
    assert.throws(() => readFileSync(path.join(root, 'etc/hello.txt')), /ENOENT/);
  });

  it('copies with skopeo into an OCI layout that berth imports with the same digests', async () => {
    using d = tempDir();
    const layout = path.join(d.path, 'layout');
    const cp = await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg.addr}/berth/app:v1`, `oci:${layout}:v1`]);
    assert.equal(cp.code, 0, cp.stderr);
    const cs2 = await LocalContentStore.open(path.join(d.path, 'c'));
    const [img] = await importOciLayout(layout, { contentStore: cs2 });
    assert.equal(img!.target.digest, image.manifest.digest);
    assert.deepEqual(img!.names, [], 'a bare tag names no repository');
  });

  it('pulls a multi-platform index that skopeo pushed, choosing by platform, and pushes what it has', async () => {
    // An index by hand: linux/amd64 and linux/arm64/v8 images with different content.
    const amd = await buildImage(cs, [await tarOf([{ name: 'arch', body: Buffer.from('amd64\n') }])], { arch: 'amd64' });
    const arm = await buildImage(cs, [await tarOf([{ name: 'arch', body: Buffer.from('arm64\n') }])], { arch: 'arm64' });
    const index: ImageIndex = {
      schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests: [
        { ...amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    };
    const ib = Buffer.from(JSON.stringify(index));
    const indexDesc: Descriptor = { mediaType: MediaTypeImageIndex, digest: digestOf(ib), size: ib.length };
    await blobStoreOf(cs).put(indexDesc, ib, childGcLabels(index));
    using d = tempDir();
    const layout = path.join(d.path, 'layout');
    await exportOciLayout([{ target: indexDesc, names: [`${reg.addr}/multi/app:latest`] }], layout, { contentStore: cs });
    const cp = await run('skopeo', ['copy', '--all', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${reg.addr}/multi/app:latest`]);
    assert.equal(cp.code, 0, cp.stderr);

    const cs2 = await LocalContentStore.open(path.join(d.path, 'c'));
    const a = await client.pull(`${reg.addr}/multi/app`, { contentStore: cs2, platform: 'linux/amd64' });
    assert.equal(a.target.digest, indexDesc.digest);
    assert.equal(a.manifest.digest, amd.manifest.digest);
    const b = await client.pull(`${reg.addr}/multi/app`, { contentStore: cs2, platform: 'linux/arm64' });
    assert.equal(b.manifest.digest, arm.manifest.digest);
    assert.equal(b.image.architecture, 'arm64');
    await assert.rejects(client.pull(`${reg.addr}/multi/app`, { contentStore: cs2, platform: 'linux/s390x' }), {
      name: 'NotFoundError', message: 'no matching manifest for linux/s390x in the manifest list entries',
    });

    // Only amd64 in a third store: pushing the index pushes the amd64 manifest under the tag.
    const cs3 = await LocalContentStore.open(path.join(d.path, 'c3'));
    const only = await client.pull(`${reg.addr}/multi/app`, { contentStore: cs3, platform: 'linux/amd64' });
    const partial = await client.push(`${reg.addr}/multi/amd-only:latest`, { contentStore: cs3, target: only.target, platform: 'linux/amd64' });
    assert.equal(partial.digest, amd.manifest.digest);
    // The full index from cs2 (both platforms present) goes up whole.
    const full = await client.push(`${reg.addr}/multi/both:latest`, { contentStore: cs2, target: indexDesc });
    assert.equal(full.digest, indexDesc.digest);
    const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.addr}/multi/both:latest`]);
    assert.equal(digestOf(Buffer.from(raw.stdout)), indexDesc.digest);
  });
});
