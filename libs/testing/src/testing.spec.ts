import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { run, startDockerd, startRegistry, tempDir, unpackRootfs } from './index.ts';

describe('testing helpers', () => {
  const tmp = tempDir();
  after(() => tmp[Symbol.dispose]());

  it('unpacks the busybox base image into a runnable rootfs', async () => {
    const rootfs = unpackRootfs('busybox', path.join(tmp.path, 'busybox'));
    assert.ok(existsSync(path.join(rootfs, 'bin/sh')));
    const r = await run('chroot', [rootfs, '/bin/echo', 'hi']);
    assert.equal(r.stdout, 'hi\n');
  });

  it('starts a private registry that answers the distribution API', async () => {
    await using reg = await startRegistry(path.join(tmp.path, 'reg'));
    const res = await fetch(`http://${reg.addr}/v2/`);
    assert.equal(res.status, 200);
  });

  it('starts a private dockerd that runs busybox from the mirror', async () => {
    await using d = await startDockerd(path.join(tmp.path, 'docker'));
    const r = await run('docker', ['run', '--rm', '--network=none', 'busybox', 'echo', 'from-docker'], { env: d.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'from-docker\n');
    // A --network host container makes dockerd mount <exec-root>/netns/default, which it leaves behind on exit.
    const h = await run('docker', ['run', '--rm', '--network=host', 'busybox', 'true'], { env: d.env });
    assert.equal(h.code, 0, h.stderr);
    await d.stop();
    const mounts = readFileSync('/proc/self/mounts', 'utf8');
    assert.ok(!mounts.includes(d.socket.replace(/\/docker\.sock$/, '')), 'no mount left under the exec root');
    assert.ok(!existsSync(path.dirname(d.socket)), 'exec root removed');
  });
});
