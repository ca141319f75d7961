// Integration tests with the real ctr (Debian containerd 1.6's client) against berth-runtimed started from
// source on private paths, the shared loopback registry and real shims/containers. Needs root.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NotFoundError, AlreadyExistsError } from '@berth/errdefs';
import { RuntimedClient, SPEC_TYPE_URL, packJson, unpackJson, type Progress, type RuntimedEvent } from '@berth/containerd-api';
import { spawn } from 'node:child_process';
import { SHARED_REGISTRY, removeCgroupTree, run, stopProcess, tempDir, testCgroupParent, waitFor } from '@berth/testing';
import { cleanupTestDaemon, startTestDaemon, type TestDaemon } from './test-daemon.ts';

const IMAGE = `${SHARED_REGISTRY}/library/busybox:latest`;

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('berth-runtimed with the real ctr', { timeout: 240_000 }, () => {
  const cgroup = testCgroupParent();
  let dir: ReturnType<typeof tempDir> | undefined;
  let fifo: string;
  let d!: TestDaemon;
  const ctr = (args: string[], opts?: { namespace?: string }) => d.ctr(args, opts);
  /** `ctr run` with this test's fifo dir and cgroup parent. */
  const ctrRun = (flags: string[], id: string, cmd: string[]) =>
    ctr(['run', '--fifo-dir', fifo, '--cgroup', `${cgroup}/${id}`, ...flags, IMAGE, id, ...cmd]);

  before(async () => {
    dir = tempDir('berth-rt-');
    fifo = path.join(dir.path, 'fifo');
    mkdirSync(fifo);
    d = await startTestDaemon(path.join(dir.path, 'd'));
  });

  after(async () => {
    if (!d) {
      dir?.[Symbol.dispose]();
      return;
    }
    // Whatever a failed test left: kill and delete its tasks, then stop (a graceful stop leaves tasks running).
    for (const ns of ['default', 'berth']) {
      const ls = await ctr(['task', 'ls', '-q'], { namespace: ns });
      for (const id of ls.stdout.split('\n').filter(Boolean)) {
        await ctr(['task', 'kill', '-s', 'SIGKILL', id], { namespace: ns });
        await waitFor(async () => (await ctr(['task', 'delete', id], { namespace: ns })).code === 0, `delete task ${id}`, 10_000).catch(() => {});
      }
    }
    await cleanupTestDaemon(d);
    removeCgroupTree(cgroup);
    dir?.[Symbol.dispose]();
  });

  it('answers version, namespaces and introspection', async () => {
    const v = await ctr(['version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /Server:\s+Version:\s+v1\.6\.20-berth/);
    assert.equal((await ctr(['namespaces', 'create', 'extra'])).code, 0);
    const dup = await ctr(['namespaces', 'create', 'extra']);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /already exists/);
    assert.match((await ctr(['namespaces', 'ls'])).stdout, /^extra\b/m);
    assert.match((await ctr(['plugins', 'ls'])).stdout, /io\.containerd\.snapshotter\.v1\s+overlayfs/);
  });

  it('pulls with ctr (content, images, snapshots, diff) and lists what it stored', async () => {
    const pull = await ctr(['images', 'pull', '--plain-http', IMAGE]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match((await ctr(['images', 'ls', '-q'])).stdout, new RegExp(`^${IMAGE}$`, 'm'));
    const content = (await ctr(['content', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
    assert.equal(content.length, 3, 'manifest, config, layer');
    const snaps = await ctr(['snapshots', 'ls']);
    assert.match(snaps.stdout, /sha256:[0-9a-f]{64}\s+Committed/);
    const check = await ctr(['images', 'check']);
    assert.match(check.stdout, /complete \(2\/2\).*true/);
    // A second pull finds everything present (AlreadyExists paths, Images Create → Update).
    assert.equal((await ctr(['images', 'pull', '--plain-http', IMAGE])).code, 0);
  });

  it('runs a container to completion: ctr run --rm prints its output and leaves nothing', async () => {
    // Several runs: the shim's and runtimed's removals of the state dir race (one run in seven left it behind).
    for (let i = 0; i < 8; i++) {
      const r = await ctrRun(['--rm'], 't1', ['echo', 'hi']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'hi\n');
      assert.equal((await ctr(['containers', 'ls', '-q'])).stdout, '');
      assert.equal((await ctr(['task', 'ls', '-q'])).stdout, '');
      assert.deepEqual(readdirSync(path.join(d.state, 'shims')), [], `run ${i}: the shim exited and its state dir is gone`);
    }
    const exit = await ctrRun(['--rm'], 't1b', ['sh', '-c', 'exit 3']);
    assert.equal(exit.code, 3);
  });

  it('runs with stdin attached and with a terminal', async () => {
    const r = await run('ctr', ['--address', d.address, 'run', '--rm', '--fifo-dir', fifo, '--cgroup', `${cgroup}/t6`, IMAGE, 't6', 'sh'],
      { input: 'echo from-stdin; exit 4\n' });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, 'from-stdin\n');
    // `script` gives ctr a terminal; the container sees a pty.
    const tty = await run('script', ['-qc', `ctr --address ${d.address} run -t --rm --fifo-dir ${fifo} --cgroup ${cgroup}/t7 ${IMAGE} t7 tty`, '/dev/null']);
    assert.equal(tty.code, 0, tty.stderr);
    assert.match(tty.stdout, /\/dev\/pts\/\d+/);
    assert.doesNotMatch(tty.stdout, /resize pty/);
  });

  it('runs detached: task ls, exec, kill, delete, containers rm', async () => {
    assert.equal((await ctrRun(['-d'], 't2', ['sleep', '1000'])).code, 0);
    assert.match((await ctr(['task', 'ls'])).stdout, /^t2\s+\d+\s+RUNNING$/m);
    const ps = await ctr(['task', 'exec', '--fifo-dir', fifo, '--exec-id', 'e1', 't2', 'ps']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /1 root\s+sleep 1000/);
    assert.match((await ctr(['task', 'ps', 't2'])).stdout, /^\d+/m);
    const busy = await ctr(['task', 'delete', 't2']);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /must be stopped|running/);
    await assert.rejects(d.client.containers.delete('t2'), /it has a task/);
    assert.equal((await ctr(['task', 'kill', '-s', 'SIGKILL', 't2'])).code, 0);
    await waitFor(async () => /^t2\s+\d+\s+STOPPED$/m.test((await ctr(['task', 'ls'])).stdout), 't2 to stop', 10_000);
    const del = await ctr(['task', 'delete', 't2']);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stderr, /exit code 137/);
    assert.equal((await ctr(['containers', 'rm', 't2'])).code, 0);
    assert.equal((await ctr(['containers', 'ls', '-q'])).stdout, '');
  });

  it('keeps running containers across kill -9 of runtimed and reports exits that happened meanwhile', async () => {
    assert.equal((await ctrRun(['-d'], 't3', ['sleep', '1000'])).code, 0);
    assert.equal((await ctrRun(['-d'], 't4', ['sh', '-c', 'sleep 1; exit 7'])).code, 0);
    const pid3 = Number(/^t3\s+(\d+)/m.exec((await ctr(['task', 'ls'])).stdout)![1]);
    await d.kill9();
    await new Promise((r) => setTimeout(r, 1500)); // t4 exits while runtimed is down
    assert.ok(pidAlive(pid3), 't3 survives its daemon');
    await d.restart();
    const ls = (await ctr(['task', 'ls'])).stdout;
    assert.match(ls, new RegExp(`^t3\\s+${pid3}\\s+RUNNING$`, 'm'));
    assert.match(ls, /^t4\s+\d+\s+STOPPED$/m);
    // A later exit is seen (events and status).
    const events: RuntimedEvent[] = [];
    const ac = new AbortController();
    const following = (async () => {
      for await (const e of d.client.events.subscribe(['topic=="/tasks/exit"'], ac.signal)) events.push(e);
    })();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await ctr(['task', 'kill', '-s', 'SIGKILL', 't3'])).code, 0);
    await waitFor(() => events.some((e) => e.event.containerId === 't3'), 'the exit event of t3', 10_000);
    ac.abort();
    await following;
    assert.equal(events.find((e) => e.event.containerId === 't3')!.event.exitStatus, 137);
    const del4 = await ctr(['task', 'delete', 't4']);
    assert.match(del4.stderr, /exit code 7/);
    assert.equal((await ctr(['task', 'delete', 't3'])).code, 0);
    assert.equal((await ctr(['containers', 'rm', 't3', 't4'])).code, 0);
  });

  it('Tasks/Wait called before Tasks/Start still returns the exit', async () => {
    assert.equal((await ctr(['containers', 'create', IMAGE, 't5', '--', 'sh', '-c', 'exit 5'])).code, 0);
    const c = d.client;
    // This test's cgroup parent, through Containers/Update (ctr containers create has no --cgroup).
    const created = await c.containers.get('t5');
    const spec = unpackJson<{ linux: { cgroupsPath?: string } }>(created.spec)!;
    spec.linux.cgroupsPath = `${cgroup}/t5`;
    const container = await c.containers.update({ id: 't5', spec: packJson(SPEC_TYPE_URL, spec) }, ['spec']);
    assert.equal(unpackJson<typeof spec>(container.spec)!.linux.cgroupsPath, `${cgroup}/t5`);
    try {
      const mounts = await c.snapshots.mounts(container.snapshotKey);
      await c.tasks.create({ containerId: 't5', rootfs: mounts });
      const waiting = c.tasks.wait('t5');
      await new Promise((r) => setTimeout(r, 100));
      await c.tasks.start('t5');
      assert.equal((await waiting).exitStatus, 5);
      assert.equal((await c.tasks.get('t5')).status, 'STOPPED');
      assert.equal((await c.tasks.delete('t5')).exitStatus, 5);
      await assert.rejects(c.tasks.get('t5'), NotFoundError);
    } finally {
      await c.tasks.kill('t5', 9).catch(() => {});
      await waitFor(() => c.tasks.delete('t5').then(() => true, (err: Error) => err instanceof NotFoundError), 'task t5 gone', 5_000);
      await c.containers.delete('t5');
      await c.snapshots.remove('t5');
    }
  });

  it('pulls as a queue job with progress (berth.jobs.v1), shares content, and maps errors', async () => {
    const c = d.client.withNamespace('berth');
    const progress: Progress[] = [];
    const result = await c.pull({ ref: IMAGE }, (p) => progress.push(p));
    assert.equal(result.name, IMAGE);
    assert.match(result.target!.digest, /^sha256:/);
    assert.ok(progress.some((p) => p.status.startsWith('Digest: sha256:')));
    assert.ok(progress.every((p) => p.jobId === progress[0]!.jobId));
    assert.equal((await c.images.get(IMAGE)).target.digest, result.target!.digest);
    assert.equal((await c.pull({ ref: IMAGE })).updated, false, 'up to date the second time');
    await assert.rejects(c.pull({ ref: `${SHARED_REGISTRY}/library/no-such-image:latest` }), NotFoundError);
    await assert.rejects(c.images.create({ name: IMAGE, target: result.target! }), AlreadyExistsError);
    assert.equal((await c.content.readAll(result.target!.digest)).length, result.target!.size);
  });

  it('reads ranges of small and large blobs through Content/Read', async () => {
    const c = d.client;
    const collect = async (digest: string, offset: number, size: number) => {
      const parts: Buffer[] = [];
      for await (const p of c.content.read(digest, offset, size)) parts.push(p);
      return Buffer.concat(parts);
    };
    const small = Buffer.from('0123456789'.repeat(10));
    const large = Buffer.alloc(3 * 1024 * 1024 + 17, 'abcdefgh'); // past the one-read size and several chunks
    for (const [ref, data] of [['range-small', small], ['range-large', large]] as const) {
      const digest = await c.content.write(ref, data, { labels: { 'containerd.io/gc.root': 'x' } });
      assert.ok((await collect(digest, 0, 0)).equals(data), `${ref}: whole`);
      assert.ok((await collect(digest, 7, 25)).equals(data.subarray(7, 32)), `${ref}: offset and size`);
      assert.ok((await collect(digest, data.length - 5, 0)).equals(data.subarray(data.length - 5)), `${ref}: tail`);
      assert.ok((await collect(digest, 3, data.length * 2)).equals(data.subarray(3)), `${ref}: size past the end`);
      assert.equal((await collect(digest, data.length + 10, 0)).length, 0, `${ref}: offset past the end`);
      await c.content.delete(digest);
    }
    await assert.rejects(collect(`sha256:${'1'.repeat(64)}`, 0, 0), NotFoundError);
  });

  it('writes, resumes and aborts content through the Content service', async () => {
    const c = d.client;
    const data = Buffer.from('hello berth content');
    const digest = await c.content.write('test-ref', data, { labels: { 'containerd.io/gc.root': 'x' } });
    assert.equal(digest, `sha256:${(await import('node:crypto')).createHash('sha256').update(data).digest('hex')}`);
    assert.equal((await c.content.readAll(digest)).toString(), 'hello berth content');
    assert.equal((await c.content.info(digest)).labels['containerd.io/gc.root'], 'x');
    await assert.rejects(c.content.write('again', data, { expected: digest }), AlreadyExistsError);
    await assert.rejects(c.content.write('bad', data, { expected: `sha256:${'0'.repeat(64)}` }), /unexpected commit digest/);
    await c.content.abort('bad').catch(() => {});
    assert.deepEqual(await c.content.listStatuses(), []);
    await c.content.delete(digest);
    await assert.rejects(c.content.info(digest), NotFoundError);
  });

  it('removing images lets GC reclaim their blobs and snapshots', async () => {
    const blobs = path.join(d.root, 'content', 'blobs');
    assert.ok(files(blobs).length >= 3);
    assert.equal((await ctr(['images', 'rm', IMAGE])).code, 0);
    assert.equal((await ctr(['images', 'rm', IMAGE], { namespace: 'berth' })).code, 0);
    await waitFor(() => files(blobs).length === 0, 'GC to remove every blob', 10_000).catch((err: Error) => {
      throw new Error(`${err.message}; left: ${files(blobs).join(', ')}; content: ${JSON.stringify(readdirSync(path.join(d.root, 'content')))}`);
    });
    assert.equal((await ctr(['content', 'ls', '-q'])).stdout, '');
    assert.equal((await ctr(['snapshots', 'ls'])).stdout.trim().split('\n').length, 1, 'header only');
    const gc = await new RuntimedClient(d.address).gc();
    assert.equal(gc.removedContent, 0);
  });

  it('stops gracefully, stopping its private redis and leaving no socket or spare shim behind', async () => {
    const redisPid = Number(readFileSync(path.join(d.state, 'redis', 'redis.pid'), 'utf8'));
    assert.ok(pidAlive(redisPid));
    await d.stop();
    await waitFor(() => !pidAlive(redisPid), 'redis to stop', 5_000);
    assert.ok(!existsSync(d.address));
    assert.deepEqual(readdirSync(path.join(d.state, 'spares')), []);
    const bad = await run(process.execPath, [path.join(import.meta.dirname, 'main.ts'), '--snapshotter', 'zfs']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--snapshotter zfs: must be overlayfs or native/);
    await d.restart();
  });
});

describe('berth-runtimed with an external Redis (--redis-url)', { timeout: 120_000 }, () => {
  it('runs its jobs there and starts no Redis of its own', async () => {
    using dir = tempDir('berth-rt-redis-');
    const sock = path.join(dir.path, 'redis.sock');
    const redis = spawn('redis-server', ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    try {
      await waitFor(async () => (await run('redis-cli', ['-s', sock, 'ping'])).stdout.trim() === 'PONG', 'the test redis', 10_000);
      const d = await startTestDaemon(path.join(dir.path, 'd'), ['--redis-url', `unix://${sock}`, '--spare-shims', '0']);
      try {
        assert.ok(!existsSync(path.join(d.state, 'redis')), 'no private redis');
        const c = d.client.withNamespace('berth');
        const r = await c.pull({ ref: IMAGE, skipUnpack: true });
        assert.equal(r.name, IMAGE);
        const keys = (await run('redis-cli', ['-s', sock, '--scan', '--pattern', 'berth:*'])).stdout;
        assert.match(keys, /^berth:[0-9a-f-]+:runtimed:/m, 'the queue lives in the given redis');
        await c.images.delete(IMAGE, true);
      } finally {
        await cleanupTestDaemon(d);
      }
    } finally {
      await stopProcess(redis);
    }
  });
});
