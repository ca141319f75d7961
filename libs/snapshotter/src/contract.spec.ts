// The contract every Snapshotter meets, run against overlayfs and native.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@berth/testing';
import { isAlreadyExists, isFailedPrecondition, isInvalidArgument, isNotFound, codeOf } from '@berth/errdefs';
import { applyLayerToMounts, compactMountOptions, overlayDirs, type Mount } from '@berth/layer-store';
import { NativeSnapshotter, openDefaultSnapshotter, OverlaySnapshotter, type Snapshotter } from './index.ts';
import { withMounted } from './test-mount.ts';
import { tarOf } from './test-tar.ts';

const isNotImplemented = (e: unknown) => codeOf(e) === 'not_implemented';

/** The writable directory behind an active snapshot's mounts (for writing without mounting). */
function writableDir(mounts: Mount[]): string {
  const m = mounts[0]!;
  return m.type === 'overlay' ? overlayDirs(m).upper! : m.source;
}

const impls: [string, (root: string) => Promise<Snapshotter>][] = [
  ['overlayfs', (root) => OverlaySnapshotter.open(root)],
  ['native', (root) => NativeSnapshotter.open(root)],
];

for (const [name, open] of impls) {
  describe(`Snapshotter contract: ${name}`, () => {
    it('prepares, commits, stacks and views snapshots; mounts show the stacked tree', async () => {
      using dir = tempDir();
      const s = await open(path.join(dir.path, 'root'));
      try {
        const m1 = await s.prepare('k1', undefined, { labels: { a: '1' } });
        assert.equal(m1.length, 1);
        writeFileSync(path.join(writableDir(m1), 'one'), '1');
        assert.equal((await s.stat('k1')).kind, 'active');
        await s.commit('base', 'k1', { labels: { b: '2' } });
        await assert.rejects(s.stat('k1'), (e) => isNotFound(e));
        const base = await s.stat('base');
        assert.deepEqual([base.kind, base.parent, base.labels], ['committed', undefined, { a: '1', b: '2' }]);

        const m2 = await s.prepare('k2', 'base');
        const mnt = path.join(dir.path, 'mnt');
        mkdirSync(mnt);
        await withMounted(m2, mnt, () => {
          assert.equal(readFileSync(path.join(mnt, 'one'), 'utf8'), '1');
          writeFileSync(path.join(mnt, 'two'), '2');
          execFileSync('rm', [path.join(mnt, 'one')]);
        });
        assert.equal((await s.stat('k2')).parent, 'base');
        await s.commit('top', 'k2');
        const v = await s.view('v', 'top');
        await withMounted(v, mnt, () => {
          assert.deepEqual(readdirSync(mnt).sort(), ['two']);
          assert.throws(() => writeFileSync(path.join(mnt, 'x'), 'x'), /EROFS|read-only/);
        });
        assert.equal((await s.stat('v')).kind, 'view');
        const names: string[] = [];
        await s.walk((i) => {
          names.push(`${i.name}:${i.kind}`);
        });
        assert.deepEqual(names.sort(), ['base:committed', 'top:committed', 'v:view']);
      } finally {
        await s.close();
      }
    });

    it('refuses what containerd refuses, with its error classes', async () => {
      using dir = tempDir();
      const s = await open(path.join(dir.path, 'root'));
      try {
        await s.prepare('a');
        await assert.rejects(s.prepare('a'), (e) => isAlreadyExists(e));
        await assert.rejects(s.prepare('b', 'missing'), (e) => isNotFound(e));
        await assert.rejects(s.prepare('b', 'a'), (e) => isInvalidArgument(e) && /not a committed snapshot/.test((e as Error).message));
        await s.commit('A', 'a');
        await assert.rejects(s.mounts('A'), (e) => isFailedPrecondition(e));
        await assert.rejects(s.commit('A2', 'A'), (e) => isFailedPrecondition(e));
        await s.view('view', 'A');
        await assert.rejects(s.commit('V', 'view'), (e) => isFailedPrecondition(e));
        await s.prepare('c', 'A');
        await assert.rejects(s.commit('A', 'c'), (e) => isAlreadyExists(e));
        await assert.rejects(s.remove('A'), (e) => isFailedPrecondition(e) && /depends on it/.test((e as Error).message));
        await assert.rejects(s.remove('nope'), (e) => isNotFound(e));
        await assert.rejects(s.stat('nope'), (e) => isNotFound(e));
        await s.remove('c');
        await s.remove('view');
        await s.remove('A');
        let n = 0;
        await s.walk(() => {
          n++;
        });
        assert.equal(n, 0);
        await assert.rejects(s.update({ name: 'nope', labels: {} }), (e) => isNotFound(e));
      } finally {
        await s.close();
      }
    });

    it('keeps labels and usage; survives reopening; cleans up crash leftovers', async () => {
      using dir = tempDir();
      const root = path.join(dir.path, 'root');
      let s = await open(root);
      const m = await s.prepare('k', undefined, { labels: { keep: 'x', drop: 'y' } });
      writeFileSync(path.join(writableDir(m), 'big'), Buffer.alloc(1 << 20, 1));
      const u = await s.usage('k');
      assert.ok(u.size >= 1 << 20 && u.inodes >= 2, JSON.stringify(u));
      let info = await s.update({ name: 'k', labels: { drop: '', add: 'z' } }, ['labels.drop', 'labels.add']);
      assert.deepEqual(info.labels, { keep: 'x', add: 'z' });
      await assert.rejects(s.update({ name: 'k', labels: {} }, ['parent']), (e) => isInvalidArgument(e));
      await s.commit('n', 'k');
      assert.deepEqual(await s.usage('n'), u);
      const filtered: string[] = [];
      await s.walk((i) => {
        filtered.push(i.name);
      }, (i) => i.labels.keep === 'x');
      assert.deepEqual(filtered, ['n']);
      await s.close();
      mkdirSync(path.join(root, 'snapshots', 'new-deadbeef', 'fs'), { recursive: true });
      mkdirSync(path.join(root, 'snapshots', '999', 'fs'), { recursive: true });
      s = await open(root);
      try {
        info = await s.stat('n');
        assert.deepEqual(info.labels, { keep: 'x', add: 'z' });
        assert.ok(!existsSync(path.join(root, 'snapshots', 'new-deadbeef')));
        assert.ok(!existsSync(path.join(root, 'snapshots', '999')));
      } finally {
        await s.close();
      }
    });

    it('handles concurrent prepares on one parent', async () => {
      using dir = tempDir();
      const s = await open(path.join(dir.path, 'root'));
      try {
        const m = await s.prepare('p');
        writeFileSync(path.join(writableDir(m), 'f'), 'parent');
        await s.commit('parent', 'p');
        const all = await Promise.all(Array.from({ length: 16 }, (_, i) => s.prepare(`child-${i}`, 'parent')));
        assert.equal(new Set(all.map((x) => writableDir(x))).size, 16);
        const same = await Promise.allSettled(Array.from({ length: 8 }, () => s.prepare('same', 'parent')));
        assert.equal(same.filter((r) => r.status === 'fulfilled').length, 1);
        assert.ok(same.every((r) => r.status === 'fulfilled' || isAlreadyExists(r.reason)));
        await Promise.all(Array.from({ length: 16 }, (_, i) => s.commit(`c-${i}`, `child-${i}`)));
        const mnt = path.join(dir.path, 'mnt');
        mkdirSync(mnt);
        await withMounted(await s.view('check', 'c-7'), mnt, () => assert.equal(readFileSync(path.join(mnt, 'f'), 'utf8'), 'parent'));
        await assert.rejects(s.remove('parent'), (e) => isFailedPrecondition(e));
      } finally {
        await s.close();
      }
    });

    it('rebases a parentless snapshot onto a parent at commit where it can, and refuses otherwise', async () => {
      using dir = tempDir();
      const s = await open(path.join(dir.path, 'root'));
      try {
        const base = await s.prepare('b');
        await applyLayerToMounts(tarOf([{ name: 'etc/', mode: 0o755 }, { name: 'etc/a', data: 'a' }, { name: 'etc/b', data: 'b' }]), base);
        // The layer above is applied before its parent is committed, without looking at it.
        const top = await s.prepare('t');
        const tmpl = (s as Partial<OverlaySnapshotter>).whiteoutTemplate;
        await applyLayerToMounts(tarOf([{ name: 'etc/', mode: 0o755 }, { name: 'etc/.wh.a', data: '' }, { name: 'etc/c', data: 'c' }]), top,
          { detached: true, ...(tmpl ? { whiteoutTemplate: tmpl } : {}) });
        await assert.rejects(s.commit('top', 't', { parent: 'b' }), (e) => (name === 'overlayfs' ? isInvalidArgument(e) : isNotImplemented(e)));
        await s.commit('base', 'b');
        if (!s.capabilities.includes('rebase')) {
          await assert.rejects(s.commit('top', 't', { parent: 'base' }), (e) => isNotImplemented(e) && /cannot rebase/.test((e as Error).message));
          assert.equal((await s.stat('t')).kind, 'active', 'a refused rebase leaves the snapshot as it was');
          return;
        }
        await assert.rejects(s.commit('top', 't', { parent: 'missing' }), (e) => isNotFound(e));
        await s.commit('top', 't', { parent: 'base', labels: { l: '1' } });
        assert.deepEqual([(await s.stat('top')).parent, (await s.stat('top')).labels], ['base', { l: '1' }]);
        await s.prepare('c', 'base');
        await assert.rejects(s.commit('c2', 'c', { parent: 'top' }), (e) => isFailedPrecondition(e) && /without a parent/.test((e as Error).message));
        const mnt = path.join(dir.path, 'mnt');
        mkdirSync(mnt);
        await withMounted(await s.view('v', 'top'), mnt, () => assert.deepEqual(readdirSync(path.join(mnt, 'etc')).sort(), ['b', 'c']));
        await assert.rejects(s.remove('base'), (e) => isFailedPrecondition(e) && /depends on it/.test((e as Error).message));
      } finally {
        await s.close();
      }
    });

    it('stacks 128 layers (apply + commit each) and mounts the whole chain', async () => {
      using dir = tempDir();
      const s = await open(path.join(dir.path, 'root'));
      try {
        let parent: string | undefined;
        for (let i = 0; i < 128; i++) {
          const mounts = await s.prepare(`extract-${i}`, parent);
          const entries = [{ name: 'layers/', mode: 0o755 }, { name: `layers/${i}`, data: String(i) }];
          if (i === 100) entries.push({ name: 'layers/.wh.50', data: '' });
          await applyLayerToMounts(tarOf(entries), mounts, name === 'overlayfs' ? { whiteoutTemplate: (s as OverlaySnapshotter).whiteoutTemplate } : {});
          const chainName = `sha256:${String(i).padStart(64, '0')}`;
          await s.commit(chainName, `extract-${i}`);
          parent = chainName;
        }
        const top = await s.prepare('container', parent);
        if (name === 'overlayfs') {
          const opts = top[0]!.options.join(',');
          assert.ok(opts.length > 4096, `uncompacted options are ${opts.length} bytes`);
          const compact = compactMountOptions(top[0]!);
          assert.ok(compact.options.join(',').length < 4096, `compacted options are ${compact.options.join(',').length} bytes`);
        }
        const mnt = path.join(dir.path, 'mnt');
        mkdirSync(mnt);
        await withMounted(top, mnt, () => {
          const files = readdirSync(path.join(mnt, 'layers')).map(Number).sort((a, b) => a - b);
          assert.equal(files.length, 127);
          assert.ok(!files.includes(50));
          assert.equal(readFileSync(path.join(mnt, 'layers', '127'), 'utf8'), '127');
        });
      } finally {
        await s.close();
      }
    });
  });
}

describe('openDefaultSnapshotter', () => {
  it('uses overlayfs where the kernel allows it and falls back to native where it does not', async () => {
    using dir = tempDir();
    const ok = await openDefaultSnapshotter(path.join(dir.path, 'ok'));
    assert.equal(ok.name, 'overlayfs');
    await ok.snapshotter.close();
    // An overlay mount cannot be the upper filesystem of another overlay.
    const [l, u, w, m] = ['l', 'u', 'w', 'm'].map((d) => path.join(dir.path, d));
    for (const d of [l!, u!, w!, m!]) mkdirSync(d);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${l},upperdir=${u},workdir=${w}`, m!]);
    try {
      const fallback = await openDefaultSnapshotter(path.join(m!, 'state'));
      try {
        assert.equal(fallback.name, 'native');
        assert.match(fallback.reason ?? '', /overlay mounts are not supported/);
        const mounts = await fallback.snapshotter.prepare('k');
        assert.equal(mounts[0]!.type, 'bind');
      } finally {
        await fallback.snapshotter.close();
      }
    } finally {
      execFileSync('umount', [m!]);
    }
  });
});
