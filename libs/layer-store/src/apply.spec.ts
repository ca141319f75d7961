import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { imageLayers, run, tempDir } from '@berth/testing';
import { digestOf } from '@berth/oci';
import { applyLayer, getXattr, needsLowerLayers, settleImplicitDirs, whiteoutTemplate } from './index.ts';
import { describeTree, tarOf, treeDiff, type FixtureEntry } from './test-helpers.ts';

/** vfs_cap_data v2 with cap_net_raw permitted and effective. */
const CAP_NET_RAW = Buffer.from('0100000200200000000000000000000000000000', 'hex');

const base: FixtureEntry[] = [
  { name: 'etc/', mode: 0o755 },
  { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'etc/secret', data: 's', mode: 0o600, uid: 1000, gid: 1001 },
  { name: 'bin/', mode: 0o755 },
  { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o4755 },
  { name: 'bin/sh', type: 'symlink', linkname: '/bin/tool' },
  { name: 'bin/tool-link', type: 'link', linkname: 'bin/tool' },
  { name: 'dev/', mode: 0o755 },
  { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: 'dev/loop9', type: 'block', devmajor: 7, devminor: 9, mode: 0o660 },
  { name: 'run/fifo', type: 'fifo', mode: 0o620, uid: 5 },
  { name: 'data/', mode: 0o1777, uid: 100000, gid: 100000 },
  { name: 'data/cap', data: 'c', xattrs: { 'user.note': 'hello', 'security.capability': CAP_NET_RAW } },
  { name: `data/${'long-name-'.repeat(12)}/${'x'.repeat(150)}`, data: 'deep' },
  { name: 'data/old/', mode: 0o755 },
  { name: 'data/old/a', data: 'a' },
  { name: 'data/old/b', data: 'b' },
  { name: 'data/gone', data: 'gone' },
  { name: 'data/gonedir/', mode: 0o755 },
  { name: 'data/gonedir/x', data: 'x' },
  { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
  { name: 'usr/lib/', mode: 0o755 },
];

const upperLayer: FixtureEntry[] = [
  { name: 'data/', mode: 0o1777, uid: 100000, gid: 100000 },
  { name: 'data/.wh.gone' },
  { name: 'data/.wh.gonedir' },
  { name: 'data/old/', mode: 0o700 },
  { name: 'data/old/.wh..wh..opq' },
  { name: 'data/old/c', data: 'new c' },
  { name: 'etc/', mode: 0o755 },
  { name: 'etc/passwd', data: 'changed\n' },
  { name: 'lib/libfoo.so', data: 'through the symlinked parent' },
  { name: 'new/deep/file', data: 'implicit parents' },
  { name: 'bin/', mode: 0o755 },
  { name: 'bin/tool-link2', type: 'link', linkname: 'bin/tool' },
];

function mount(args: string[]): void {
  execFileSync('mount', args);
}

describe('applyLayer', () => {
  it('restores every entry type with modes, owners, xattrs, links, devices and times', async () => {
    using dir = tempDir();
    const target = path.join(dir.path, 'root');
    const tar = tarOf(base);
    const r = await applyLayer(zlib.gzipSync(tar), target);
    assert.equal(r.diffID, digestOf(tar));
    assert.equal(r.size, tar.length);
    assert.equal(r.entries, base.length);
    const t = describeTree(target, { mtimes: true, xattrs: true });
    assert.equal(t.get('bin/tool')!.mode, 0o4755);
    assert.deepEqual([t.get('etc/secret')!.uid, t.get('etc/secret')!.gid, t.get('etc/secret')!.mode], [1000, 1001, 0o600]);
    assert.equal(t.get('bin/sh')!.link, '/bin/tool');
    assert.equal(statSync(path.join(target, 'bin/tool-link')).ino, statSync(path.join(target, 'bin/tool')).ino);
    assert.equal(t.get('dev/null')!.type, 'char');
    assert.equal(t.get('dev/null')!.rdev, (1 << 8) | 3);
    assert.equal(t.get('dev/loop9')!.type, 'block');
    assert.deepEqual([t.get('run/fifo')!.type, t.get('run/fifo')!.mode, t.get('run/fifo')!.uid], ['fifo', 0o620, 5]);
    assert.deepEqual([t.get('data')!.mode, t.get('data')!.uid], [0o1777, 100000]);
    assert.equal(getXattr(path.join(target, 'data/cap'), 'user.note')?.toString(), 'hello');
    assert.ok(getXattr(path.join(target, 'data/cap'), 'security.capability'));
    assert.equal(readFileSync(path.join(target, `data/${'long-name-'.repeat(12)}/${'x'.repeat(150)}`), 'utf8'), 'deep');
    assert.equal(t.get('etc/passwd')!.mtime, 1_700_000_000);
    assert.equal(Math.floor(lstatSync(path.join(target, 'etc')).mtimeMs / 1000), 1_700_000_000, 'directory times set after their children');
    assert.equal(Math.floor(lstatSync(path.join(target, 'bin/sh')).mtimeMs / 1000), 1_700_000_000, 'symlink times');
  });

  it('applies whiteouts and opaque directories onto a full tree', async () => {
    using dir = tempDir();
    const target = path.join(dir.path, 'root');
    await applyLayer(tarOf(base), target);
    await applyLayer(tarOf(upperLayer), target);
    const t = describeTree(target);
    assert.ok(!t.has('data/gone') && !t.has('data/gonedir') && !t.has('data/gonedir/x'));
    assert.deepEqual([...t.keys()].filter((k) => k.startsWith('data/old/')), ['data/old/c']);
    assert.equal(t.get('data/old')!.mode, 0o700);
    assert.equal(readFileSync(path.join(target, 'etc/passwd'), 'utf8'), 'changed\n');
    assert.equal(readFileSync(path.join(target, 'usr/lib/libfoo.so'), 'utf8'), 'through the symlinked parent');
    assert.equal(t.get('lib')!.type, 'symlink');
    assert.equal(t.get('new/deep')!.mode, 0o755);
    assert.equal(statSync(path.join(target, 'bin/tool-link2')).nlink, 3);
  });

  it('writes overlay whiteouts into an upper dir; the mounted overlay equals the full-tree result', async () => {
    using dir = tempDir();
    const full = path.join(dir.path, 'full');
    await applyLayer(tarOf(base), full);
    await applyLayer(tarOf(upperLayer), full);

    const tmpl = whiteoutTemplate(path.join(dir.path, 'tmpl'));
    const l1 = path.join(dir.path, 'l1');
    const u2 = path.join(dir.path, 'u2');
    await applyLayer(tarOf(base), l1, { whiteouts: 'overlay' });
    await applyLayer(tarOf(upperLayer), u2, { whiteouts: 'overlay', lowerDirs: [l1], whiteoutTemplate: tmpl });
    const up = describeTree(u2);
    assert.equal(up.get('data/gone')!.type, 'char');
    assert.equal(getXattr(path.join(u2, 'data/old'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(up.get('usr/lib/libfoo.so')!.type, 'file', 'symlinked parent followed through the lower');
    assert.ok(!up.has('lib'), 'the lower symlink is not replaced by a directory');
    assert.equal(up.get('bin/tool')!.mode, 0o4755, 'hard link target copied up with its metadata');

    const merged = path.join(dir.path, 'merged');
    mkdirSync(merged);
    mount(['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${u2}:${l1}`, merged]);
    try {
      const diffs = treeDiff(describeTree(full, { xattrs: true }), describeTree(merged, { xattrs: true }));
      assert.deepEqual(diffs, []);
    } finally {
      execFileSync('umount', [merged]);
    }
  });

  it('detached: writes what the overlay mode writes without looking below, reports the parents it made, or says the lowers are needed', async () => {
    using dir = tempDir();
    const tmpl = whiteoutTemplate(path.join(dir.path, 'tmpl'));
    const l1 = path.join(dir.path, 'l1');
    await applyLayer(tarOf(base), l1, { whiteouts: 'overlay' });
    // Self-contained: every parent is in the layer; whiteouts, an opaque dir, a hard link inside the layer.
    const contained: FixtureEntry[] = [
      { name: 'data/', mode: 0o1777, uid: 100000, gid: 100000 },
      { name: 'data/.wh.gone' },
      { name: 'data/old/', mode: 0o700 },
      { name: 'data/old/.wh..wh..opq' },
      { name: 'data/old/c', data: 'new c' },
      { name: 'lib/', mode: 0o700 },
      { name: 'lib/x', data: 'x' },
      { name: 'lib/y', type: 'link', linkname: 'lib/x' },
    ];
    const attached = path.join(dir.path, 'attached');
    const detached = path.join(dir.path, 'detached');
    await applyLayer(tarOf(contained), attached, { whiteouts: 'overlay', lowerDirs: [l1], whiteoutTemplate: tmpl });
    await applyLayer(tarOf(contained), detached, { detached: true, whiteoutTemplate: tmpl });
    const look = { xattrs: true, mtimes: true };
    assert.deepEqual(treeDiff(describeTree(attached, look), describeTree(detached, look)), []);
    assert.equal(getXattr(path.join(detached, 'data/old'), 'trusted.overlay.opaque')?.toString(), 'y');

    // Parents the layer lacks are made and reported; settled against the lowers they become what the attached
    // apply makes (absent below: 0755; a directory below: its mode, owner and xattrs).
    for (const entries of [
      [{ name: 'new/deep/file', data: 'implicit parents' }],
      [{ name: 'data/old/new-file', data: 'parents that are directories below' }],
      [{ name: 'etc/', mode: 0o755 }, { name: 'etc/sub/.wh.x' }],
    ] as FixtureEntry[][]) {
      const tag = entries.at(-1)!.name.replace(/\W/g, '_');
      const want = path.join(dir.path, `attached-${tag}`);
      const got = path.join(dir.path, `settled-${tag}`);
      await applyLayer(tarOf(entries), want, { whiteouts: 'overlay', lowerDirs: [l1], whiteoutTemplate: tmpl });
      const r = await applyLayer(tarOf(entries), got, { detached: true, whiteoutTemplate: tmpl });
      assert.ok(r.implicitDirs && r.implicitDirs.length > 0, `${tag}: reports the parents it made`);
      settleImplicitDirs(got, r.implicitDirs, [l1]);
      assert.deepEqual(treeDiff(describeTree(want, { xattrs: true }), describeTree(got, { xattrs: true })), [], tag);
    }
    // A parent that is a symlink below (the entry belongs elsewhere) cannot be settled; a hard link to a lower
    // file cannot be applied detached at all: both say the lowers are needed.
    const symlinked = path.join(dir.path, 'symlinked');
    const r = await applyLayer(tarOf([{ name: 'usr/', mode: 0o755 }, { name: 'lib/libfoo.so', data: 'x' }]), symlinked, { detached: true });
    assert.deepEqual(r.implicitDirs, ['lib']);
    assert.throws(() => settleImplicitDirs(symlinked, r.implicitDirs!, [l1]), (err: Error) => needsLowerLayers(err));
    const linked = path.join(dir.path, 'linked');
    mkdirSync(linked);
    await assert.rejects(applyLayer(tarOf([{ name: 'bin/', mode: 0o755 }, { name: 'bin/tool-link2', type: 'link', linkname: 'bin/tool' }]), linked,
      { detached: true }), (err: Error) => {
      assert.ok(needsLowerLayers(err), err.message);
      assert.equal(err.name, 'FailedPreconditionError');
      return true;
    });
  });

  it('reads gzip, zstd and plain streams alike and checks the expected diffID', async () => {
    using dir = tempDir();
    const tar = tarOf(base);
    const want = digestOf(tar);
    for (const [i, blob] of [tar, zlib.gzipSync(tar), zlib.zstdCompressSync(tar)].entries()) {
      const r = await applyLayer([blob.subarray(0, 7), blob.subarray(7)].values() as unknown as AsyncIterable<Uint8Array>,
        path.join(dir.path, `t${i}`), { expectedDiffID: want });
      assert.equal(r.diffID, want);
    }
    const target = path.join(dir.path, 'bad');
    await assert.rejects(applyLayer(tar, target, { expectedDiffID: digestOf('other') }), /does not match the expected/);
    assert.ok(!existsSync(target), 'a target the apply created is removed on failure');
  });

  it('extracts what GNU tar writes: sparse files (GNU and PAX), long names, hard links', async () => {
    using dir = tempDir();
    const src = path.join(dir.path, 'src');
    mkdirSync(path.join(src, 'a'.repeat(120)), { recursive: true });
    writeFileSync(path.join(src, 'a'.repeat(120), 'b'.repeat(120)), 'long');
    const sparse = path.join(src, 'sparse.img');
    writeFileSync(sparse, '');
    truncateSync(sparse, 64 * 1024 * 1024);
    const fd = Buffer.from('data in the middle');
    writeFileSync(path.join(src, 'tmp'), fd);
    execFileSync('dd', [`if=${path.join(src, 'tmp')}`, `of=${sparse}`, 'bs=1', 'seek=33554432', 'conv=notrunc'], { stdio: 'ignore' });
    execFileSync('ln', [path.join(src, 'tmp'), path.join(src, 'hard')]);
    for (const format of ['gnu', 'pax']) {
      const tarFile = path.join(dir.path, `${format}.tar`);
      execFileSync('tar', ['--sparse', `--format=${format}`, '-cf', tarFile, '-C', src, '.']);
      const out = path.join(dir.path, `out-${format}`);
      const r = await applyLayer(readFileSync(tarFile), out);
      assert.equal(r.diffID, digestOf(readFileSync(tarFile)));
      assert.deepEqual(treeDiff(describeTree(src), describeTree(out)), [], format);
      assert.ok(statSync(path.join(out, 'sparse.img')).blocks * 512 < 1024 * 1024, `${format}: sparse file stays sparse`);
      assert.equal(statSync(path.join(out, 'hard')).ino, statSync(path.join(out, 'tmp')).ino);
    }
  });

  describe('refuses malicious layers without writing outside the target', () => {
    const cases: [string, Buffer | (() => Buffer), RegExp, Record<string, number>?][] = [
      ['path traversal', tarOf([{ name: 'ok' }, { name: '../escaped', data: 'x' }]), /path escapes the target/],
      ['deep traversal', tarOf([{ name: 'a/b/../../../escaped', data: 'x' }]), /path escapes the target/],
      ['absolute path', tarOf([{ name: '/escaped', data: 'x' }]), /absolute path/],
      ['symlink escape (relative)', tarOf([{ name: 'link', type: 'symlink', linkname: '../../../../../..' },
        { name: 'link/escaped', data: 'x' }]), /leads out of the target/],
      ['symlink escape (chained)', tarOf([{ name: 'a', type: 'symlink', linkname: 'b/../..' }, { name: 'b/', mode: 0o755 },
        { name: 'a/escaped', data: 'x' }]), /leads out of the target/],
      ['hard link escape', tarOf([{ name: 'h', type: 'link', linkname: '../../../../etc/passwd' }]), /path escapes the target/],
      ['hard link to an absolute path', tarOf([{ name: 'h', type: 'link', linkname: '/etc/passwd' }]), /absolute path/],
      ['whiteout of ..', tarOf([{ name: 'x/', mode: 0o755 }, { name: 'x/.wh...' }]), /invalid whiteout/],
      ['whiteout of . at the root', tarOf([{ name: '.wh..' }]), /invalid whiteout/],
      ['huge sparse file', () => {
        const h = Buffer.from(tarOf([{ name: 'huge', data: '' }], { end: false }));
        return hugeSparse(h);
      }, /exceed/],
      ['gzip bomb', () => zlib.gzipSync(Buffer.concat([tarOf([{ name: 'z', data: Buffer.alloc(1) }], { end: false }).subarray(0, 512),
        Buffer.alloc(300 * 1024 * 1024)]), { level: 9 }), /decompression bomb/],
      ['too many entries', tarOf(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}` }))), /more than 10 entries/, { maxEntries: 10 }],
      ['truncated stream', tarOf([{ name: 'f', data: 'x'.repeat(2000) }]).subarray(0, 1024), /unexpected end of tar stream/],
      ['bad checksum', (() => {
        const b = tarOf([{ name: 'f', data: 'x' }]);
        b[0] = 0x41;
        return b;
      })(), /checksum/],
    ];
    for (const [name, fixture, message, limits] of cases) {
      it(name, async () => {
        using dir = tempDir();
        const outside = path.join(dir.path, 'a', 'b', 'c');
        const target = path.join(outside, 'target');
        mkdirSync(outside, { recursive: true });
        writeFileSync(path.join(dir.path, 'sentinel'), 'untouched');
        symlinkSync('/etc/passwd', path.join(dir.path, 'etcpasswd'));
        const before = describeTree(dir.path);
        const blob = typeof fixture === 'function' ? fixture() : fixture;
        await assert.rejects(applyLayer(blob, target, limits ?? {}), message);
        assert.ok(!existsSync(target), 'nothing partial is left');
        assert.deepEqual(treeDiff(before, describeTree(dir.path)), []);
        assert.deepEqual(readdirSync(outside), []);
      });
    }

    it('an absolute symlink is resolved inside the target', async () => {
      using dir = tempDir();
      const target = path.join(dir.path, 'target');
      const marker = path.join('/tmp', `berth-escape-${path.basename(dir.path)}`);
      await applyLayer(tarOf([{ name: 'link', type: 'symlink', linkname: path.dirname(marker) },
        { name: `link/${path.basename(marker)}`, data: 'inside' }]), target);
      assert.ok(!existsSync(marker));
      assert.equal(readFileSync(path.join(target, marker), 'utf8'), 'inside');
    });
  });

  it('applies the debian layer to the same tree as GNU tar', async () => {
    using dir = tempDir();
    // the layout services.sh built (debootstrap: its digest changes with Debian's archive, so it is looked up)
    const [layer] = imageLayers('debian');
    assert.ok(layer && existsSync(layer), 'debian image layout missing: run bash tools/setup/services.sh');
    const ours = path.join(dir.path, 'ours');
    const theirs = path.join(dir.path, 'theirs');
    mkdirSync(theirs);
    const [r, tarRun] = await Promise.all([
      applyLayer(readFileSync(layer), ours),
      run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-xzf', layer, '-C', theirs]),
    ]);
    assert.equal(tarRun.code, 0, tarRun.stderr);
    assert.equal(r.diffID, digestOf(zlib.gunzipSync(readFileSync(layer))));
    assert.deepEqual(treeDiff(describeTree(ours, { mtimes: true }), describeTree(theirs, { mtimes: true })), []);
  });
});

/** A PAX 1.0 sparse entry declaring a 1 PiB file with one tiny segment. */
function hugeSparse(_unused: Buffer): Buffer {
  const map = Buffer.alloc(512);
  map.write('1\n1125899906842620\n4\n');
  const data = Buffer.from('boom');
  const pax = (k: string, v: string) => {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return `${len}${body}`;
  };
  const records = Buffer.from(pax('GNU.sparse.major', '1') + pax('GNU.sparse.minor', '0') + pax('GNU.sparse.name', 'huge')
    + pax('GNU.sparse.realsize', String(2 ** 50)));
  const x = tarOf([{ name: 'PaxHeaders/huge', data: records }], { end: false });
  x[156] = 'x'.charCodeAt(0);
  fixChecksum(x);
  const entry = tarOf([{ name: 'GNUSparseFile.0/huge', data: Buffer.concat([map, data]) }], { end: false });
  return Buffer.concat([x, entry, Buffer.alloc(1024)]);
}

function fixChecksum(b: Buffer): void {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  b[154] = 0;
  b[155] = 0x20;
}
