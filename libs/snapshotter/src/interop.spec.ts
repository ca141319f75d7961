// Interop with the real tools: skopeo-written OCI layouts unpack to the tree umoci produces, and layers berth
// produces are accepted by umoci, skopeo and a real dockerd (`docker load`).
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { run, startDockerd, tempDir, uniqueSuffix, imageLayout } from '@berth/testing';
import {
  compressLayer, diffMounts, LocalContentStore, readBlob, writeBlob, type ContentStore,
} from '@berth/layer-store';
import {
  digestOf, layoutBlobPath, MediaTypeImageConfig, MediaTypeImageLayerGzip, MediaTypeImageManifest, parseManifest,
  validateImageConfig, validateLayoutHeader, type Descriptor, type Digest, type ImageConfig, type ImageManifest,
} from '@berth/oci';
import { NativeSnapshotter, OverlaySnapshotter, unpackLayers, type Snapshotter } from './index.ts';
import { withMounted } from './test-mount.ts';
import { describeTree, treeDiff } from './test-tree.ts';

async function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(cmd, args, env ? { env } : {});
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Reads an OCI layout's image into a content store, verifying every blob's digest and size on the way. */
async function importLayout(layout: string, tag: string, store: ContentStore): Promise<{ manifest: ImageManifest; config: ImageConfig }> {
  validateLayoutHeader(JSON.parse(readFileSync(path.join(layout, 'oci-layout'), 'utf8')));
  const index = parseManifest(readFileSync(path.join(layout, 'index.json')));
  assert.equal(index.kind, 'index');
  if (index.kind !== 'index') throw new Error('not an index');
  const desc = index.index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
  const put = (d: Descriptor) => writeBlob(store, `import-${d.digest}`, Readable.from([readFileSync(path.join(layout, layoutBlobPath(d.digest)))]), d);
  await put(desc);
  const m = parseManifest(await readBlob(store, desc.digest), desc.mediaType);
  if (m.kind !== 'manifest') throw new Error('not a manifest');
  await put(m.manifest.config);
  for (const l of m.manifest.layers) await put(l);
  const config = validateImageConfig(JSON.parse((await readBlob(store, m.manifest.config.digest)).toString()));
  return { manifest: m.manifest, config };
}

const impls: [string, (root: string) => Promise<Snapshotter>][] = [
  ['overlayfs', (root) => OverlaySnapshotter.open(root)],
  ['native', (root) => NativeSnapshotter.open(root)],
];

describe('interop with skopeo, umoci and dockerd', () => {
  for (const [name, open] of impls) {
    it(`unpacks a skopeo-written OCI layout (${name}) into the tree umoci unpack produces`, async () => {
      using dir = tempDir();
      const archive = path.join(dir.path, 'busybox.tar');
      const layout = path.join(dir.path, 'layout');
      await sh('skopeo', ['copy', `oci:${imageLayout('busybox')}:latest`, `docker-archive:${archive}:busybox:latest`]);
      await sh('skopeo', ['copy', `docker-archive:${archive}`, `oci:${layout}:latest`]);
      const store = await LocalContentStore.open(path.join(dir.path, 'content'));
      const { manifest, config } = await importLayout(layout, 'latest', store);
      const s = await open(path.join(dir.path, 'snapshots'));
      try {
        const res = await unpackLayers(s, manifest.layers, config.rootfs.diff_ids, { open: (d) => store.read(d.digest) });
        assert.equal(res.extracted, manifest.layers.length);
        assert.equal((await unpackLayers(s, manifest.layers, config.rootfs.diff_ids, { open: (d) => store.read(d.digest) })).extracted, 0);
        await sh('umoci', ['unpack', '--image', `${layout}:latest`, path.join(dir.path, 'bundle')]);
        const mnt = path.join(dir.path, 'mnt');
        mkdirSync(mnt);
        await withMounted(await s.view('check', res.chainID), mnt, () => {
          const diffs = treeDiff(describeTree(path.join(dir.path, 'bundle', 'rootfs'), { mtimes: true }), describeTree(mnt, { mtimes: true }));
          assert.deepEqual(diffs, []);
        });
      } finally {
        await s.close();
      }
    });
  }

  it('produces a layer that umoci, skopeo and dockerd accept', async () => {
    using dir = tempDir();
    const store = await LocalContentStore.open(path.join(dir.path, 'content'));
    const base = await importLayout(imageLayout('busybox'), 'latest', store);
    const s = await OverlaySnapshotter.open(path.join(dir.path, 'snapshots'));
    let layer: Descriptor;
    let diffID: Digest;
    let expectedView: ReturnType<typeof describeTree>;
    try {
      const { chainID } = await unpackLayers(s, base.manifest.layers, base.config.rootfs.diff_ids, { open: (d) => store.read(d.digest) });
      // A container changes its rootfs: berth commits it as a layer.
      const upper = await s.prepare('container', chainID);
      const mnt = path.join(dir.path, 'mnt');
      mkdirSync(mnt);
      await withMounted(upper, mnt, () => {
        mkdirSync(path.join(mnt, 'data'));
        writeFileSync(path.join(mnt, 'data', 'hello'), 'hello from berth\n');
        chmodSync(path.join(mnt, 'data', 'hello'), 0o640);
        rmSync(path.join(mnt, 'etc', 'group'));
        rmSync(path.join(mnt, 'home'), { recursive: true, force: true });
        appendFileSync(path.join(mnt, 'etc', 'passwd'), 'berth:x:1000:1000::/data:/bin/sh\n');
      });
      const lower = await s.view('lower', chainID);
      const { stream, done } = compressLayer(diffMounts(lower, upper), 'gzip');
      const blob = Buffer.concat(await stream.toArray());
      const r = await done;
      diffID = r.diffID;
      layer = { mediaType: MediaTypeImageLayerGzip, digest: r.digest, size: r.size };
      await writeBlob(store, 'commit', blob, layer);
      await withMounted(upper, mnt, () => {
        expectedView = describeTree(mnt);
      });
    } finally {
      await s.close();
    }

    // An OCI layout with busybox's layer plus ours.
    const config: ImageConfig = {
      ...base.config, rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, diffID] },
      history: [...(base.config.history ?? []), { created_by: 'berth commit', created: new Date(0).toISOString() }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDesc: Descriptor = { mediaType: MediaTypeImageConfig, digest: digestOf(configBytes), size: configBytes.length };
    const layers = [...base.manifest.layers, layer];
    const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaTypeImageManifest, config: configDesc, layers };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDesc: Descriptor = { mediaType: MediaTypeImageManifest, digest: digestOf(manifestBytes), size: manifestBytes.length };
    const layout = path.join(dir.path, 'layout');
    mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(path.join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2, manifests: [{ ...manifestDesc, annotations: { 'org.opencontainers.image.ref.name': 'berth' } }],
    }));
    writeFileSync(path.join(layout, layoutBlobPath(configDesc.digest)), configBytes);
    writeFileSync(path.join(layout, layoutBlobPath(manifestDesc.digest)), manifestBytes);
    for (const l of manifest.layers) writeFileSync(path.join(layout, layoutBlobPath(l.digest)), await readBlob(store, l.digest));

    // umoci unpacks it to what the container saw.
    await sh('umoci', ['unpack', '--image', `${layout}:berth`, path.join(dir.path, 'bundle')]);
    assert.deepEqual(treeDiff(expectedView!, describeTree(path.join(dir.path, 'bundle', 'rootfs'))), []);

    // skopeo verifies and converts it to a docker-archive; dockerd loads and runs it.
    const archive = path.join(dir.path, 'image.tar');
    const tag = `berth-test/commit:${uniqueSuffix()}`;
    await sh('skopeo', ['copy', `oci:${layout}:berth`, `docker-archive:${archive}:${tag}`]);
    const dockerd = await startDockerd(path.join(dir.path, 'dockerd'));
    try {
      assert.match(await sh('docker', ['load', '-i', archive], dockerd.env), new RegExp(`Loaded image: ${tag}`));
      const layers = JSON.parse(await sh('docker', ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', tag], dockerd.env)) as string[];
      assert.deepEqual(layers, config.rootfs.diff_ids);
      const out = await sh('docker', ['run', '--rm', '--network', 'none', tag, 'sh', '-c',
        'cat /data/hello; stat -c %a /data/hello; test -e /etc/group || echo no-group; grep ^berth: /etc/passwd'], dockerd.env);
      assert.equal(out, 'hello from berth\n640\nno-group\nberth:x:1000:1000::/data:/bin/sh\n');
    } finally {
      await dockerd.stop();
    }
  });
});
