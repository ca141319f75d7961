// Integration: pulls unpacked into real overlay snapshots (mounted with mount(8) to look at the result).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore, chainIDs, compactMountOptions, type Mount } from '@berth/layer-store';
import { OverlaySnapshotter } from '@berth/snapshotter';
import { startRegistry, tempDir, type PrivateRegistry } from '@berth/testing';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '@berth/oci';
import { RegistryClient, applyLayerInWorker, snapshotUnpacker, type LayerContent, type ProgressEvent, type UnpackLayer } from './index.ts';
import { buildImage, randomLayer, registryBlobFile, tarOf } from './test-support.ts';

async function withMounted<T>(mounts: Mount[], target: string, fn: () => T): Promise<T> {
  mkdirSync(target, { recursive: true });
  for (const m of mounts) {
    const { cwd, options } = compactMountOptions(m);
    execFileSync('mount', ['-t', m.type, m.source, '-o', options.join(','), target], cwd ? { cwd } : {});
  }
  try {
    return fn();
  } finally {
    execFileSync('umount', ['-R', target]);
  }
}

describe('applyLayerInWorker', () => {
  it('applies on a worker thread, keeps error classes, and stays usable after a failure', async () => {
    using d = tempDir();
    const target = path.join(d.path, 't');
    mkdirSync(target);
    const mounts: Mount[] = [{ type: 'bind', source: target, options: ['rbind', 'rw'] }];
    const evil = await tarOf([{ name: '../escape', body: Buffer.from('x') }]);
    await assert.rejects(applyLayerInWorker(Readable.from([evil]), mounts), { name: 'InvalidArgumentError' });
    assert.ok(!existsSync(path.join(d.path, 'escape')));
    const good = await tarOf([{ name: 'dir/', type: 'dir' }, { name: 'dir/f', body: Buffer.alloc(3 << 20, 7) }]);
    const chunks = Array.from({ length: 12 }, (_, i) => good.subarray(i * (good.length / 12), (i + 1) * (good.length / 12)));
    const r = await applyLayerInWorker(Readable.from(chunks), mounts, { expectedDiffID: digestOf(good) });
    assert.equal(r.diffID, digestOf(good));
    assert.equal(readFileSync(path.join(target, 'dir/f')).length, 3 << 20);
    await assert.rejects(applyLayerInWorker(Readable.from([good]), mounts, { expectedDiffID: digestOf('other') }), { name: 'FailedPreconditionError' });
  });
});

describe('snapshotUnpacker in parallel', () => {
  const layer = (tar: Buffer, index: number, diffIds: Digest[]): UnpackLayer => {
    const chainIds = chainIDs(diffIds);
    return {
      index, descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(tar), size: tar.length },
      diffId: diffIds[index]!, chainId: chainIds[index]!, ...(index > 0 ? { parentChainId: chainIds[index - 1]! } : {}),
    };
  };
  const content = (tar: Buffer, below: Promise<void>, reopened?: { n: number }): LayerContent => ({
    stream: Readable.from([tar]), verified: Promise.resolve(), below,
    reopen: () => {
      if (reopened) reopened.n++;
      return Readable.from([tar]);
    },
  });

  it('applies layers before the ones below them, settles the parent directories they lack, and starts over when the lowers change where entries go', async () => {
    using d = tempDir();
    const snap = await OverlaySnapshotter.open(path.join(d.path, 's'));
    try {
      const tars = [
        await tarOf([
          { name: 'etc/', type: 'dir', mode: 0o750 }, { name: 'etc/a', body: Buffer.from('a') }, { name: 'etc/b', body: Buffer.from('b') },
          { name: 'usr/', type: 'dir' }, { name: 'usr/lib/', type: 'dir', mode: 0o700 }, { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
        ]),
        // Self-contained: applied detached, rebased at commit.
        await tarOf([{ name: 'etc/', type: 'dir', mode: 0o750 }, { name: 'etc/.wh.a' }, { name: 'etc/c', body: Buffer.from('c') }]),
        // Lacks its parent directory, a directory below: applied detached, `etc` settled to the lower's metadata.
        await tarOf([{ name: 'etc/d', body: Buffer.from('d') }, { name: 'new/deep/e', body: Buffer.from('e') }]),
        // Lacks its parent, a symlink below: the entry belongs under usr/lib, so it is applied again on its parent.
        await tarOf([{ name: 'lib/x', body: Buffer.from('x') }]),
      ];
      const diffIds = tars.map((t) => digestOf(t));
      const layers = tars.map((t, i) => layer(t, i, diffIds));
      for (const inWorker of [true, false]) {
        const u = snapshotUnpacker(snap, { inWorker });
        assert.equal(u.parallel, true);
        let releaseBase!: () => void;
        const baseDone = new Promise<void>((resolve) => (releaseBase = resolve));
        const reopened = [{ n: 0 }, { n: 0 }];
        const second = u.apply(layers[1]!, content(tars[1]!, baseDone));
        const third = u.apply(layers[2]!, content(tars[2]!, second, reopened[0]));
        const fourth = u.apply(layers[3]!, content(tars[3]!, third, reopened[1]));
        // All wait for the base; the detached ones are there, parentless, not committed.
        await waitForActive(snap, 3);
        assert.equal((await snap.stat(layers[1]!.chainId).catch(() => undefined)), undefined);
        await u.apply(layers[0]!, content(tars[0]!, Promise.resolve()));
        releaseBase();
        await Promise.all([second, third, fourth]);
        assert.equal(reopened[0]!.n, 0, 'a missing parent that is a directory below is settled in place');
        assert.equal(reopened[1]!.n, 1, 'a missing parent that is a symlink below needs the layer applied again');
        for (const l of layers) {
          const info = await snap.stat(l.chainId);
          assert.deepEqual([info.kind, info.parent], ['committed', l.parentChainId]);
        }
        const target = path.join(d.path, `mnt-${inWorker}`);
        await withMounted(await snap.view(`look-${inWorker}`, layers[3]!.chainId), target, () => {
          assert.deepEqual(readdirSync(path.join(target, 'etc')).sort(), ['b', 'c', 'd']);
          assert.equal(statSync(path.join(target, 'etc')).mode & 0o7777, 0o750);
          assert.equal(statSync(path.join(target, 'new/deep')).mode & 0o7777, 0o755);
          assert.equal(readFileSync(path.join(target, 'new/deep/e'), 'utf8'), 'e');
          assert.equal(readFileSync(path.join(target, 'usr/lib/x'), 'utf8'), 'x');
          assert.equal(statSync(path.join(target, 'usr/lib')).mode & 0o7777, 0o700);
        });
        await snap.remove(`look-${inWorker}`);
        for (const l of [...layers].reverse()) await snap.remove(l.chainId);
        const left: string[] = [];
        await snap.walk((i) => void left.push(i.name));
        assert.deepEqual(left, []);
      }
    } finally {
      await snap.close();
    }
  });
});

async function waitForActive(snap: OverlaySnapshotter, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    let active = 0;
    await snap.walk((info) => void (info.kind === 'active' && active++));
    if (active >= n) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`no ${n} active snapshots`);
}

describe('pull into overlay snapshots', () => {
  const dir = tempDir();
  let reg: PrivateRegistry;
  let image: Awaited<ReturnType<typeof buildImage>>;
  const client = new RegistryClient();
  before(async () => {
    reg = await startRegistry(path.join(dir.path, 'reg'));
    const src = await LocalContentStore.open(path.join(dir.path, 'src'));
    image = await buildImage(src, [
      await tarOf([{ name: 'etc/', type: 'dir' }, { name: 'etc/a', body: Buffer.from('a\n') }, { name: 'etc/b', body: Buffer.from('b\n') }]),
      await randomLayer('blob', 2 << 20),
      await tarOf([{ name: 'etc/', type: 'dir' }, { name: 'etc/.wh.a', body: Buffer.alloc(0) }, { name: 'etc/c', body: Buffer.from('c\n') }]),
    ]);
    await client.push(`${reg.addr}/snap/app:latest`, { contentStore: src, target: image.manifest });
  });
  after(async () => {
    client.close();
    await reg.stop();
    dir[Symbol.dispose]();
  });

  it('commits one snapshot per layer, named by chainID, with whiteouts as overlay expects', async () => {
    const cs = await LocalContentStore.open(path.join(dir.path, 'c1'));
    const snap = await OverlaySnapshotter.open(path.join(dir.path, 's1'));
    try {
      const r = await client.pull(`${reg.addr}/snap/app`, { contentStore: cs, unpack: snapshotUnpacker(snap, { labels: { 'berth.test': '1' } }) });
      for (const [i, id] of r.chainIds.entries()) {
        const info = await snap.stat(id);
        assert.equal(info.kind, 'committed');
        assert.equal(info.parent, i > 0 ? r.chainIds[i - 1] : undefined);
        assert.equal(info.labels['berth.test'], '1');
      }
      const mounts = await snap.view('look', r.chainIds.at(-1));
      const target = path.join(dir.path, 'mnt');
      withMounted(mounts, target, () => {
        assert.equal(readFileSync(path.join(target, 'etc/b'), 'utf8'), 'b\n');
        assert.equal(readFileSync(path.join(target, 'etc/c'), 'utf8'), 'c\n');
        assert.ok(!existsSync(path.join(target, 'etc/a')), 'the whiteout hides etc/a');
        assert.ok(existsSync(path.join(target, 'blob/data.bin')));
      });
      await snap.remove('look');

      // Pulled again: every snapshot exists, nothing is applied.
      const events: ProgressEvent[] = [];
      let applied = 0;
      const u = snapshotUnpacker(snap);
      await client.pull(`${reg.addr}/snap/app`, { contentStore: cs, unpack: { exists: u.exists!, apply: async () => void applied++ }, onProgress: (e) => events.push(e) });
      assert.equal(applied, 0);
      assert.equal(events.filter((e) => e.status === 'Already exists').length, 3);
    } finally {
      await snap.close();
    }
  });

  it('leaves no snapshot behind when a layer fails verification', async () => {
    const file = registryBlobFile(path.join(dir.path, 'reg'), image.layers[2]!.digest);
    const orig = readFileSync(file);
    const bad = Buffer.from(orig);
    bad[bad.length - 10] = bad[bad.length - 10]! ^ 0xff;
    writeFileSync(file, bad);
    const cs = await LocalContentStore.open(path.join(dir.path, 'c2'));
    const snap = await OverlaySnapshotter.open(path.join(dir.path, 's2'));
    try {
      await assert.rejects(client.pull(`${reg.addr}/snap/app`, { contentStore: cs, unpack: snapshotUnpacker(snap) }), (err: Error) => {
        assert.match(err.message, new RegExp(`layer ${image.layers[2]!.digest.slice(7, 19)} `));
        return true;
      });
      const left: string[] = [];
      await snap.walk((i) => void left.push(`${i.kind} ${i.name}`));
      assert.equal(left.filter((x) => !x.startsWith('committed')).length, 0, `no active snapshot left: ${left.join(', ')}`);
      assert.ok(left.length < 3, 'the corrupted layer was not committed (layers below it may be, they are sound)');
    } finally {
      writeFileSync(file, orig);
      await snap.close();
    }
  });
});
