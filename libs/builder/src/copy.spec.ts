/**
 * The build context and COPY/ADD on real directories (root: chown and owners are checked): the checksums
 * dockerd writes in history (values taken from a real dockerd), .dockerignore applied, and where files land.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { END_OF_ARCHIVE, encodeHeader, paddingFor, type EntryType } from '@berth/layer-store';
import { tempDir } from '@berth/testing';
import {
  BuildContext, LazySource, copyInfosFor, dirSum, goMatch, normalizeDest, parseChown, performCopy, sourcesHash,
} from './index.ts';

interface Entry { name: string; type?: EntryType; mode?: number; uid?: number; body?: string; linkname?: string }

/** A context tar as the docker CLI writes it: owners 0:0, the given modes. */
function contextTar(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const type = e.type ?? 'file';
    parts.push(encodeHeader({
      name: e.name, type, mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: 0, size: type === 'file' ? body.length : 0,
      mtime: 1_700_000_000, linkname: e.linkname ?? '', uname: '', gname: '', devmajor: 0, devminor: 0, xattrs: {},
    }));
    if (type === 'file') parts.push(body, paddingFor(body.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

describe('build context and COPY/ADD', () => {
  let dir: string;
  let n = 0;
  const fresh = (what: string) => {
    const d = path.join(dir, `${what}-${n++}`);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const contextOf = async (entries: Entry[], gzip = false) => {
    const tar = contextTar(entries);
    return BuildContext.fromTar(Readable.from([gzip ? gzipSync(tar) : tar]), fresh('ctx'));
  };

  before(() => {
    dir = tempDir('berth-builder-copy-').path;
  });
  after(() => {
    execFileSync('rm', ['-rf', dir]);
  });

  it('gives files and directories dockerd\'s checksums', async () => {
    const ctx = await contextOf([
      { name: 'f.txt', body: 'content\n' },
      { name: 'sub/', type: 'dir' },
      { name: 'sub/a.txt', body: 'a\n' },
    ], true);
    // Both values come from `docker history` on a real dockerd for the same files.
    assert.equal(ctx.hash('f.txt'), '6c25a9cdaf9696efb27185354f7e39027f02c6ca7dcf82f27508d531163704e4');
    assert.equal(dirSum(ctx, 'sub'), 'dir:db5b18033d8f94701792a9d30ce1deb73fcac5844da139eb281f8317af98be24');
    assert.equal(ctx.hash('missing/implicit'), 'missing/implicit');
    const infos = [...copyInfosFor(ctx, 'f.txt', { fromImage: false }), ...copyInfosFor(ctx, 'sub', { fromImage: false })];
    assert.match(sourcesHash(infos), /^multi:[0-9a-f]{64}$/);
    assert.throws(() => copyInfosFor(ctx, 'nothere', { fromImage: false }),
      /file not found in build context or excluded by \.dockerignore: stat nothere: file does not exist/);
  });

  it('applies .dockerignore on the daemon side, re-included paths kept', async () => {
    const ctx = await contextOf([
      { name: 'Dockerfile', body: 'FROM scratch\n' },
      { name: '.dockerignore', body: '*.log\nbuild\n!build/keep\nDockerfile\n' },
      { name: 'app.log', body: 'x' }, { name: 'keep.txt', body: 'k' },
      { name: 'build/', type: 'dir' }, { name: 'build/out', body: 'o' }, { name: 'build/keep', body: 'k' },
    ]);
    const df = ctx.readDockerfile('Dockerfile');
    assert.equal(df.content.toString(), 'FROM scratch\n');
    const files = execFileSync('find', ['.', '-mindepth', '1'], { cwd: ctx.root, encoding: 'utf8' }).trim().split('\n').sort();
    assert.deepEqual(files, ['./.dockerignore', './build', './build/keep', './keep.txt']);
    assert.throws(() => ctx.readDockerfile('Other'), /Cannot locate specified Dockerfile: Other/);
  });

  it('matches wildcards as Go\'s filepath.Match does', async () => {
    assert.ok(goMatch('*.txt', 'a.txt'));
    assert.ok(!goMatch('*.txt', 'sub/a.txt'));
    assert.ok(goMatch('sub/?.txt', 'sub/a.txt'));
    assert.ok(goMatch('[a-c]*', 'banana'));
    assert.ok(!goMatch('[^a-c]*', 'banana'));
    const ctx = await contextOf([{ name: 'a.txt', body: 'a' }, { name: 'b.md', body: 'b' }, { name: 'sub/c.txt', body: 'c' }]);
    assert.deepEqual(copyInfosFor(ctx, '*.txt', { fromImage: false }).map((i) => i.path), ['a.txt']);
    assert.deepEqual(copyInfosFor(ctx, '*/*.txt', { fromImage: false }).map((i) => i.path), ['sub/c.txt']);
  });

  it('copies files and directory contents where Docker puts them, with owners and modes', async () => {
    const src = fresh('src');
    writeFileSync(path.join(src, 'f.txt'), 'file');
    mkdirSync(path.join(src, 'd', 'inner'), { recursive: true });
    writeFileSync(path.join(src, 'd', 'inner', 'x.sh'), '#!/bin/sh\n', { mode: 0o750 });
    symlinkSync('inner/x.sh', path.join(src, 'd', 'link'));
    symlinkSync('f.txt', path.join(src, 'alias'));
    const root = fresh('root');
    mkdirSync(path.join(root, 'existing'), { mode: 0o700 });
    mkdirSync(path.join(root, 'real'));
    symlinkSync('/real', path.join(root, 'via'));
    const source = new LazySource(src);
    const info = (p: string) => copyInfosFor(source, p, { fromImage: true })[0]!;
    const root0 = { uid: 0, gid: 0 };

    await performCopy(root, '/new/dir/', info('f.txt'), { decompress: false, identity: root0 });
    assert.equal(readFileSync(path.join(root, 'new/dir/f.txt'), 'utf8'), 'file');
    await performCopy(root, '/renamed', info('f.txt'), { decompress: false, identity: root0 });
    assert.ok(statSync(path.join(root, 'renamed')).isFile());
    await performCopy(root, '/existing', info('alias'), { decompress: false, identity: root0 });
    // The source symlink is followed; the name is the one in the COPY line.
    assert.equal(readFileSync(path.join(root, 'existing/alias'), 'utf8'), 'file');
    assert.equal(statSync(path.join(root, 'existing')).mode & 0o777, 0o700);

    // A directory's contents go into the destination; a new destination is 0755 and owned by --chown.
    await performCopy(root, '/tree', info('d'), { decompress: false, identity: { uid: 1234, gid: 5678 } });
    const t = statSync(path.join(root, 'tree'));
    assert.deepEqual([t.mode & 0o777, t.uid, t.gid], [0o755, 1234, 5678]);
    const x = statSync(path.join(root, 'tree/inner/x.sh'));
    assert.deepEqual([x.mode & 0o777, x.uid, x.gid], [0o750, 1234, 5678]);
    assert.equal(readlinkSync(path.join(root, 'tree/link')), 'inner/x.sh');
    assert.equal(lstatSync(path.join(root, 'tree/link')).uid, 1234);

    // Destinations are resolved inside the root: /via → /real.
    await performCopy(root, '/via/', info('f.txt'), { decompress: false, identity: root0, chmod: 0o600 });
    assert.equal(statSync(path.join(root, 'real/f.txt')).mode & 0o777, 0o600);

    // --chown on a file creates its new parents with that owner.
    await performCopy(root, '/owned/deep/f', info('f.txt'), { decompress: false, identity: { uid: 42, gid: 43 } });
    assert.equal(statSync(path.join(root, 'owned')).uid, 42);
    assert.equal(statSync(path.join(root, 'owned/deep/f')).gid, 43);
    assert.equal(normalizeDest('/app', 'sub/'), '/app/sub/');
    assert.equal(normalizeDest('/app', '.'), '/app');
  });

  it('ADD unpacks local archives (owners kept) and nothing else', async () => {
    const src = fresh('addsrc');
    const tree = fresh('tree');
    mkdirSync(path.join(tree, 'pkg'));
    writeFileSync(path.join(tree, 'pkg', 'VERSION'), '1\n');
    execFileSync('tar', ['-cJf', path.join(src, 'pkg.tar.xz'), '--owner=1000', '--group=1000', '-C', tree, 'pkg']);
    writeFileSync(path.join(src, 'notes.gz'), gzipSync('not a tar'));
    const root = fresh('addroot');
    const source = new LazySource(src);
    const info = (p: string) => copyInfosFor(source, p, { fromImage: false })[0]!;
    await performCopy(root, '/opt/', info('pkg.tar.xz'), { decompress: true, identity: { uid: 0, gid: 0 } });
    const v = statSync(path.join(root, 'opt/pkg/VERSION'));
    assert.deepEqual([readFileSync(path.join(root, 'opt/pkg/VERSION'), 'utf8'), v.uid], ['1\n', 1000]);
    await performCopy(root, '/opt/', info('notes.gz'), { decompress: true, identity: { uid: 0, gid: 0 } });
    assert.ok(statSync(path.join(root, 'opt/notes.gz')).isFile());
  });

  it('resolves --chown names in the image, with dockerd\'s messages', () => {
    const root = fresh('chown');
    mkdirSync(path.join(root, 'etc'));
    writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\n');
    writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\napp:x:1003:\nstaff:x:50:\n');
    assert.deepEqual(parseChown('app', root), { uid: 1001, gid: 1003 });
    assert.deepEqual(parseChown('app:staff', root), { uid: 1001, gid: 50 });
    assert.deepEqual(parseChown('7:8', root), { uid: 7, gid: 8 });
    assert.throws(() => parseChown('nobody', root),
      /unable to convert uid\/gid chown string to host mapping: can't find uid for user nobody: no such user: nobody/);
    assert.throws(() => parseChown('1:2:3', root), /invalid chown string format: 1:2:3/);
  });
});
