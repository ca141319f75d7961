// Integration with the real docker engine (a private dockerd): images berth pushes are pulled and run by
// docker, images docker pushes are pulled by berth, and `docker save` / `docker load` meet berth's archives.
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore, applyLayer, readBlob } from '@berth/layer-store';
import { imageLayers, run, startDockerd, startRegistry, tempDir, type PrivateDockerd, type PrivateRegistry } from '@berth/testing';
import { RegistryClient, importRootfs, loadImages, saveImages } from './index.ts';

describe('with a real dockerd', () => {
  const dir = tempDir();
  let reg: PrivateRegistry;
  let dockerd: PrivateDockerd;
  let cs: LocalContentStore;
  const client = new RegistryClient({ mirrors: ['http://127.0.0.1:5000'] });
  const docker = (...args: string[]) => run('docker', args, { env: dockerd.env });
  before(async () => {
    reg = await startRegistry(path.join(dir.path, 'reg'));
    dockerd = await startDockerd(path.join(dir.path, 'dockerd'), { extraArgs: [`--insecure-registry=${reg.addr}`] });
    cs = await LocalContentStore.open(path.join(dir.path, 'content'));
  });
  after(async () => {
    client.close();
    await dockerd?.stop();
    await reg?.stop();
    dir[Symbol.dispose]();
  });

  it('docker pulls and runs an image berth imported and pushed', async () => {
    const img = await importRootfs(createReadStream(imageLayers('busybox')[0]!), {
      contentStore: cs, changes: ['CMD ["/bin/sh", "-c", "echo hello from $GREETER"]', 'ENV GREETER=berth'], message: 'imported by berth',
    });
    const pushed = await client.push(`${reg.addr}/berth/hello:v1`, { contentStore: cs, target: img.target });
    const pull = await docker('pull', `${reg.addr}/berth/hello:v1`);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, new RegExp(`Digest: ${pushed.digest}`));
    const out = await docker('run', '--rm', '--network', 'none', `${reg.addr}/berth/hello:v1`);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, 'hello from berth\n');
    const inspect = await docker('image', 'inspect', '--format', '{{.Id}} {{.Comment}}', `${reg.addr}/berth/hello:v1`);
    assert.equal(inspect.stdout.trim(), `${img.config.digest} imported by berth`);
  });

  it('pulls what docker push put in the registry', async () => {
    for (const args of [['pull', 'busybox'], ['tag', 'busybox', `${reg.addr}/docker/pushed:latest`], ['push', `${reg.addr}/docker/pushed:latest`]]) {
      const r = await docker(...args);
      assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    }
    using d = tempDir();
    const cs2 = await LocalContentStore.open(path.join(d.path, 'c'));
    const root = path.join(d.path, 'root');
    mkdirSync(root);
    const r = await client.pull(`${reg.addr}/docker/pushed`, {
      contentStore: cs2,
      unpack: { apply: async (l, c) => void (await applyLayer(c.stream, root, { expectedDiffID: l.diffId, compression: 'none' }), await c.verified) },
    });
    const id = await docker('image', 'inspect', '--format', '{{.Id}}', 'busybox');
    assert.equal(r.config.digest, id.stdout.trim());
    assert.ok(existsSync(path.join(root, 'bin/busybox')));
  });

  it('docker loads what berth saves', async () => {
    const bb = await client.pull('busybox', { contentStore: cs });
    const hw = await client.pull('hello-world', { contentStore: cs });
    const file = path.join(dir.path, 'berth-save.tar');
    const tar = await saveImages([
      { target: bb.target, names: ['docker.io/library/busybox:berth', `${reg.addr}/saved/busybox:1`] },
      { target: hw.target, names: ['docker.io/library/hello-world:berth'] },
    ], { contentStore: cs });
    await pipeline(tar, createWriteStream(file));
    const load = await docker('load', '-i', file);
    assert.equal(load.code, 0, load.stderr);
    assert.match(load.stdout, /Loaded image: busybox:berth/);
    assert.match(load.stdout, new RegExp(`Loaded image: ${reg.addr}/saved/busybox:1`));
    const ids = await docker('image', 'inspect', '--format', '{{.Id}}', 'busybox:berth', 'hello-world:berth');
    assert.deepEqual(ids.stdout.trim().split('\n'), [bb.config.digest, hw.config.digest]);
    const out = await docker('run', '--rm', '--network', 'none', 'hello-world:berth');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /Hello from Berth!/);
  });

  it('loads what docker save writes', async () => {
    const file = path.join(dir.path, 'docker-save.tar');
    const save = await docker('save', '-o', file, 'busybox:latest', 'hello-world:berth');
    assert.equal(save.code, 0, save.stderr);
    using d = tempDir();
    const cs2 = await LocalContentStore.open(path.join(d.path, 'c'));
    const images = await loadImages(createReadStream(file), { contentStore: cs2 });
    const ids = (await docker('image', 'inspect', '--format', '{{.Id}}', 'busybox:latest', 'hello-world:berth')).stdout.trim().split('\n');
    assert.deepEqual(images.map((i) => i.config.digest).sort(), [...ids].sort());
    const bb = images.find((i) => i.config.digest === ids[0])!;
    assert.deepEqual(bb.names, ['docker.io/library/busybox:latest']);
    // The loaded image is complete: it unpacks, and berth can save it again for docker.
    const root = path.join(d.path, 'root');
    mkdirSync(root);
    const m = JSON.parse((await readBlob(cs2, bb.manifest.digest)).toString()) as { layers: { digest: `sha256:${string}` }[] };
    for (const l of m.layers) await applyLayer(cs2.read(l.digest), root, {});
    assert.ok(existsSync(path.join(root, 'bin/busybox')));
    const again = path.join(d.path, 'again.tar');
    await pipeline(await saveImages([{ target: bb.target, names: ['docker.io/library/busybox:roundtrip'] }], { contentStore: cs2 }), createWriteStream(again));
    const load = await docker('load', '-i', again);
    assert.equal(load.code, 0, load.stderr);
    assert.equal((await docker('image', 'inspect', '--format', '{{.Id}}', 'busybox:roundtrip')).stdout.trim(), ids[0]);
  });
});
