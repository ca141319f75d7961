// Archives: berth's save/load round trip, Docker's legacy and pre-1.10 formats, skopeo's docker-archive and
// oci-archive, OCI layout directories (umoci/skopeo), and rootfs import/export.
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore, readBlob } from '@berth/layer-store';
import { digestOf, type ImageConfig, type ImageManifest } from '@berth/oci';
import { imageLayers, imageLayout, run, tempDir } from '@berth/testing';
import { exportFilesystem, exportOciLayout, importOciLayout, importRootfs, loadImages, saveImages } from './index.ts';
import { readTar } from './tar-stream.ts';
import { buildImage, randomLayer, tarOf } from './test-support.ts';

async function blobsOf(cs: LocalContentStore): Promise<string[]> {
  const out: string[] = [];
  await cs.walk((i) => void out.push(i.digest));
  return out.sort();
}

async function buffer(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function tarNames(data: Buffer): Promise<string[]> {
  const names: string[] = [];
  for await (const ev of readTar(Readable.from([data]))) if (ev.type === 'entry') names.push(ev.header.name);
  return names;
}

describe('archives', () => {
  const dir = tempDir();
  let cs: LocalContentStore;
  let base: Awaited<ReturnType<typeof buildImage>>;
  let app: Awaited<ReturnType<typeof buildImage>>;
  before(async () => {
    cs = await LocalContentStore.open(path.join(dir.path, 'content'));
    base = await buildImage(cs, [await randomLayer('base', 2 << 20)]);
    const cfg = JSON.parse((await readBlob(cs, base.config.digest)).toString()) as ImageConfig;
    app = await buildImage(cs, [await tarOf([{ name: 'app', body: Buffer.from('#!/bin/sh\n'), mode: 0o755 }])], {
      base: { layers: base.layers, diffIds: cfg.rootfs.diff_ids }, cmd: ['/app'],
    });
  });
  after(() => dir[Symbol.dispose]());

  it('saves Docker\'s current format and loads it back (also gzip-compressed), keeping digests and names', async () => {
    const tar = await buffer(await saveImages([
      { target: base.manifest, names: ['docker.io/library/base:1', 'docker.io/library/base:latest'] },
      { target: app.manifest, names: ['127.0.0.1:5000/team/app:2'] },
    ], { contentStore: cs }));
    const names = await tarNames(tar);
    for (const n of ['oci-layout', 'index.json', 'manifest.json', 'repositories', `blobs/sha256/${base.layers[0]!.digest.slice(7)}`]) assert.ok(names.includes(n), n);
    assert.equal(names.filter((n) => n === `blobs/sha256/${base.layers[0]!.digest.slice(7)}`).length, 1, 'a shared layer is written once');
    using d = tempDir();
    const cs2 = await LocalContentStore.open(d.path);
    const loaded = await loadImages(Readable.from([zlib.gzipSync(tar)]), { contentStore: cs2 });
    assert.deepEqual(loaded.map((l) => [l.target.digest, l.names]), [
      [base.manifest.digest, ['docker.io/library/base:1', 'docker.io/library/base:latest']],
      [app.manifest.digest, ['127.0.0.1:5000/team/app:2']],
    ]);
    const expected = [base.manifest, base.config, ...base.layers, app.manifest, app.config, ...app.layers].map((x) => x.digest);
    assert.deepEqual(await blobsOf(cs2), [...new Set(expected)].sort(), 'exactly the images\' blobs, nothing else');
    assert.equal((await cs2.listStatuses()).length, 0);
    assert.equal((await cs2.info(app.manifest.digest)).labels['containerd.io/gc.ref.content.l.1'], app.layers[1]!.digest);
  });

  it('fails a save of an image whose content is missing before writing a byte', async () => {
    await assert.rejects(saveImages([{ target: { ...base.manifest, digest: digestOf('nothing') }, names: ['x:1'] }], { contentStore: cs }), {
      name: 'NotFoundError', message: /^save x:1: content sha256:[0-9a-f]{64} not found$/,
    });
  });

  it('loads skopeo\'s docker-archive and oci-archive, and refuses a corrupted archive leaving nothing', async () => {
    using d = tempDir();
    const da = path.join(d.path, 'docker.tar');
    const oa = path.join(d.path, 'oci.tar');
    let r = await run('skopeo', ['copy', `oci:${imageLayout('busybox')}:latest`, `docker-archive:${da}:busybox:skopeo`]);
    assert.equal(r.code, 0, r.stderr);
    r = await run('skopeo', ['copy', `oci:${imageLayout('hello-world')}:latest`, `oci-archive:${oa}:latest`]);
    assert.equal(r.code, 0, r.stderr);
    const cs2 = await LocalContentStore.open(path.join(d.path, 'c'));
    const [bb] = await loadImages(createReadStream(da), { contentStore: cs2 });
    assert.deepEqual(bb!.names, ['docker.io/library/busybox:skopeo']);
    const m = JSON.parse((await readBlob(cs2, bb!.manifest.digest)).toString()) as ImageManifest;
    assert.equal(m.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    const cfg = JSON.parse((await readBlob(cs2, m.config.digest)).toString()) as ImageConfig;
    assert.deepEqual(m.layers.map((l) => l.digest), cfg.rootfs.diff_ids, 'uncompressed legacy layers: digest = diffID');
    const [hw] = await loadImages(createReadStream(oa), { contentStore: cs2 });
    const hwIndex = JSON.parse(readFileSync(path.join(imageLayout('hello-world'), 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(hw!.target.digest, hwIndex.manifests[0]!.digest);
    assert.deepEqual(hw!.names, []);

    // A flipped byte in a layer of an OCI archive: refused, and nothing of it stays.
    const data = readFileSync(oa);
    const layer = imageLayers('hello-world')[0]!;
    const layerBytes = readFileSync(layer);
    const at = data.indexOf(layerBytes.subarray(0, 64));
    data[at + 100] = data[at + 100]! ^ 0xff;
    const cs3 = await LocalContentStore.open(path.join(d.path, 'c3'));
    await assert.rejects(loadImages(Readable.from([data]), { contentStore: cs3 }), { name: 'InvalidArgumentError', message: /^invalid archive: blobs\/sha256\/[0-9a-f]{64} has digest sha256:/ });
    assert.deepEqual(await blobsOf(cs3), []);
    assert.equal((await cs3.listStatuses()).length, 0);
    await assert.rejects(loadImages(Readable.from([Buffer.from('not a tar at all, clearly'.repeat(40))]), { contentStore: cs3 }), { name: 'InvalidArgumentError' });
  });

  it('loads the pre-1.10 format (repositories and parent chains)', async () => {
    const l1 = await tarOf([{ name: 'a', body: Buffer.from('1') }]);
    const l2 = await tarOf([{ name: 'b', body: Buffer.from('2') }]);
    const [id1, id2] = ['1'.repeat(64), '2'.repeat(64)];
    const archive = await tarOf([
      { name: 'repositories', body: Buffer.from(JSON.stringify({ old: { v1: id2 } })) },
      { name: `${id1}/json`, body: Buffer.from(JSON.stringify({ id: id1, created: '2015-01-01T00:00:00Z', os: 'linux', architecture: 'amd64' })) },
      { name: `${id1}/layer.tar`, body: l1 },
      { name: `${id2}/json`, body: Buffer.from(JSON.stringify({ id: id2, parent: id1, config: { Cmd: ['/b'] }, os: 'linux', architecture: 'amd64' })) },
      { name: `${id2}/layer.tar`, body: zlib.gzipSync(l2) },
    ]);
    using d = tempDir();
    const cs2 = await LocalContentStore.open(d.path);
    const [img] = await loadImages(Readable.from([archive]), { contentStore: cs2 });
    assert.deepEqual(img!.names, ['docker.io/library/old:v1']);
    const cfg = JSON.parse((await readBlob(cs2, img!.config.digest)).toString()) as ImageConfig;
    assert.deepEqual(cfg.rootfs.diff_ids, [digestOf(l1), digestOf(l2)]);
    assert.deepEqual(cfg.config?.Cmd, ['/b']);
  });

  it('imports and exports OCI layout directories that umoci and skopeo read', async () => {
    using d = tempDir();
    const cs2 = await LocalContentStore.open(path.join(d.path, 'c'));
    const layout = imageLayout('debian');
    const [deb] = await importOciLayout(layout, { contentStore: cs2 });
    // the manifest the layout's index names (debootstrap's output, so its digest follows Debian's archive)
    const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(deb!.target.digest, index.manifests[0]!.digest);
    assert.equal((await readBlob(cs2, deb!.target.digest)).length, deb!.target.size);
    const out = path.join(d.path, 'out');
    await exportOciLayout([{ target: app.manifest, names: ['docker.io/library/app:1'] }], out, { contentStore: cs });
    const r = await run('skopeo', ['inspect', `oci:${out}:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { Digest: string }).Digest, app.manifest.digest);
    const u = await run('umoci', ['unpack', '--rootless', '--image', `${out}:1`, path.join(d.path, 'bundle')]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(readFileSync(path.join(d.path, 'bundle/rootfs/app'), 'utf8'), '#!/bin/sh\n');
    await assert.rejects(importOciLayout(path.join(d.path, 'nope'), { contentStore: cs2 }), { name: 'InvalidArgumentError', message: /^not an OCI image layout: / });
  });

  it('imports a rootfs tarball with --change, refuses garbage, and exports a tree', async () => {
    using d = tempDir();
    const cs2 = await LocalContentStore.open(path.join(d.path, 'c'));
    const img = await importRootfs(createReadStream(imageLayers('busybox')[0]!), {
      contentStore: cs2, changes: ['CMD ["/bin/sh"]', 'ENV A=1', 'WORKDIR /srv', 'EXPOSE 8080'], platform: 'linux/amd64',
      created: new Date('2026-01-02T03:04:05Z'),
    });
    const cfg = JSON.parse((await readBlob(cs2, img.config.digest)).toString()) as ImageConfig;
    assert.deepEqual(cfg.config, { Cmd: ['/bin/sh'], Env: ['A=1'], WorkingDir: '/srv', ExposedPorts: { '8080/tcp': {} } });
    assert.equal(cfg.created, '2026-01-02T03:04:05.000Z');
    assert.deepEqual(cfg.history, [{ created: '2026-01-02T03:04:05.000Z', comment: 'Imported from -' }]);
    const plain = zlib.gunzipSync(readFileSync(imageLayers('busybox')[0]!));
    assert.deepEqual(cfg.rootfs.diff_ids, [digestOf(plain)], 'the diffID is the uncompressed tar\'s');
    const before = await blobsOf(cs2);
    await assert.rejects(importRootfs(Readable.from([Buffer.alloc(700, 'x')]), { contentStore: cs2 }), { name: 'InvalidArgumentError', message: /^import: the input is not a tar archive/ });
    await assert.rejects(importRootfs(Readable.from([plain]), { contentStore: cs2, changes: ['RUN rm -rf /'] }), { message: 'RUN is not a valid change command' });
    assert.deepEqual(await blobsOf(cs2), before, 'nothing stored by failed imports');
    assert.equal((await cs2.listStatuses()).length, 0);

    const tree = path.join(d.path, 'tree');
    await run('mkdir', ['-p', `${tree}/etc`]);
    writeFileSync(`${tree}/etc/motd`, 'hi\n');
    const exported = path.join(d.path, 'export.tar');
    await pipeline(exportFilesystem(tree), createWriteStream(exported));
    const names = await tarNames(readFileSync(exported));
    assert.deepEqual(names, ['etc/', 'etc/motd']);
  });
});
