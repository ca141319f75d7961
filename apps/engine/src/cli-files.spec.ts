// Files in and out of containers with the real docker CLI on berthd: `docker cp` both ways (running and
// stopped containers, directories, symlinks that point outside), `docker diff`, and path tricks that must stay
// inside the container. Needs root and the loopback registry.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '@berth/testing';
import { startBerthd, type TestDaemon } from './test-support.ts';

describe('docker cp and diff through berthd', { concurrency: 2 }, () => {
  let berth: TestDaemon;
  let dir: { path: string } & Disposable;
  const ok = async (args: string[]) => {
    const r = await berth.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    dir = tempDir('berth-engine-files-');
    berth = await startBerthd();
    await ok(['pull', '-q', 'busybox']);
  });

  after(async () => {
    await berth?.stop();
    dir?.[Symbol.dispose]();
  });

  it('copies files and directories both ways, running and stopped', async () => {
    const id = (await ok(['run', '-d', 'busybox', 'sh', '-c', 'mkdir -p /data/sub && echo inside > /data/sub/f && ln -s /etc/passwd /data/link && sleep 300'])).trim();
    await new Promise((r) => setTimeout(r, 300));
    const out = path.join(dir.path, 'out');
    mkdirSync(out);
    await ok(['cp', `${id}:/data`, out]);
    assert.equal(readFileSync(path.join(out, 'data/sub/f'), 'utf8'), 'inside\n');
    assert.equal(readlinkSync(path.join(out, 'data/link')), '/etc/passwd');
    await ok(['cp', `${id}:/data/sub/f`, path.join(out, 'single')]);
    assert.equal(readFileSync(path.join(out, 'single'), 'utf8'), 'inside\n');
    const src = path.join(dir.path, 'src');
    mkdirSync(path.join(src, 'deep'), { recursive: true });
    writeFileSync(path.join(src, 'deep', 'g'), 'from host\n');
    await ok(['cp', src, `${id}:/tmp/`]);
    assert.equal(await ok(['exec', id, 'cat', '/tmp/src/deep/g']), 'from host\n');
    assert.equal(await ok(['exec', id, 'stat', '-c', '%u:%g', '/tmp/src/deep/g']), '0:0\n');
    await ok(['cp', path.join(src, 'deep', 'g'), `${id}:/tmp/renamed`]);
    assert.equal(await ok(['exec', id, 'cat', '/tmp/renamed']), 'from host\n');
    const missing = await berth.docker(['cp', `${id}:/no/such`, out]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Could not find the file \/no\/such in container/);
    await ok(['stop', '-t', '0', id]);
    await ok(['cp', path.join(src, 'deep', 'g'), `${id}:/stopped-copy`]);
    await ok(['cp', `${id}:/stopped-copy`, path.join(out, 'from-stopped')]);
    assert.equal(readFileSync(path.join(out, 'from-stopped'), 'utf8'), 'from host\n');
    await ok(['rm', id]);
  });

  it('copies in and out of a stopped container\'s volumes and bind mounts, as dockerd does', async () => {
    const vol = `berth-cp-vol-${process.pid}`;
    const bind = path.join(dir.path, 'bind-src');
    mkdirSync(bind);
    writeFileSync(path.join(bind, 'x'), 'on the host\n');
    const id = (await ok(['run', '-d', '-v', `${vol}:/data`, '-v', `${bind}:/bm:ro`, 'busybox', 'sh', '-c', 'echo in-volume > /data/f'])).trim();
    assert.equal((await ok(['wait', id])).trim(), '0');
    const out = path.join(dir.path, 'stopped-out');
    mkdirSync(out);
    await ok(['cp', `${id}:/data/f`, path.join(out, 'f')]);
    assert.equal(readFileSync(path.join(out, 'f'), 'utf8'), 'in-volume\n');
    await ok(['cp', `${id}:/bm/x`, path.join(out, 'x')]);
    assert.equal(readFileSync(path.join(out, 'x'), 'utf8'), 'on the host\n');
    await ok(['cp', path.join(out, 'x'), `${id}:/data/copied`]);
    assert.equal(await ok(['run', '--rm', '-v', `${vol}:/v`, 'busybox', 'cat', '/v/copied']), 'on the host\n');
    // a read-only bind mount stays read-only
    assert.notEqual((await berth.docker(['cp', path.join(out, 'f'), `${id}:/bm/new`])).code, 0);
    assert.equal(existsSync(path.join(bind, 'new')), false);
    await ok(['rm', '-v', id]);
    await ok(['volume', 'rm', vol]);
  });

  it('a symlink inside the container never leads a copy out to the host', async () => {
    const marker = path.join(dir.path, 'host-marker');
    const id = (await ok(['run', '-d', 'busybox', 'sh', '-c', `ln -s ${dir.path} /escape && ln -s / /root-link && sleep 300`])).trim();
    await new Promise((r) => setTimeout(r, 300));
    const src = path.join(dir.path, 'host-marker-src');
    writeFileSync(src, 'payload\n');
    // Copying "into" /escape lands inside the container, never in the host directory the link names.
    const r = await berth.docker(['cp', src, `${id}:/escape/host-marker`]);
    assert.equal(existsSync(marker), false, 'nothing was written on the host');
    void r;
    // Through a link to `/`, a copy lands in the container's /tmp, not the host's.
    const name = `berth-cp-escape-${process.pid}-${Date.now()}`;
    await ok(['cp', src, `${id}:/root-link/tmp/${name}`]);
    assert.equal(await ok(['exec', id, 'cat', `/tmp/${name}`]), 'payload\n');
    assert.equal(existsSync(`/tmp/${name}`), false);
    // Reading through a link resolves it inside the container too.
    const out = path.join(dir.path, 'passwd-copy');
    await ok(['cp', '-L', `${id}:/root-link/etc/passwd`, out]);
    assert.match(readFileSync(out, 'utf8'), /^root:x:0:0:root:\/root:\/bin\/sh$/m);
    await ok(['rm', '-f', id]);
  });

  it('diff lists what changed against the image', async () => {
    await ok(['run', '--name', 'files-diff', 'busybox', 'sh', '-c', 'echo x > /newfile; rm /bin/zcat; echo y >> /etc/group; mkdir /newdir']);
    const diff = await ok(['diff', 'files-diff']);
    const lines = diff.trim().split('\n').sort();
    for (const l of ['A /newfile', 'A /newdir', 'C /etc/group', 'D /bin/zcat', 'C /bin', 'C /etc']) assert.ok(lines.includes(l), `${l} in:\n${diff}`);
    assert.ok(!lines.some((l) => /\/etc\/(hosts|hostname|resolv\.conf)$/.test(l)), 'mount points are not changes');
    await ok(['rm', 'files-diff']);
  });
});
