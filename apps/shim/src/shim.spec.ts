// berth-shim end to end, as root against the real kernel: the built bundle is launched as runtimed launches
// it, and driven through ShimClient.
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, AlreadyExistsError } from '@berth/errdefs';
import { mkfifo } from '@berth/runtime';
import { EXIT_FILE, jsonFileUri, launchShim, readRecordedExit, ShimClient, TASK_FILE, type ExitEvent } from '@berth/shim-protocol';
import { waitFor } from '@berth/testing';
import assert from 'node:assert/strict';
import { closeSync, constants as fsc, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cgroupProcesses, Fixture, isAlive, logText, mountsUnder, SHIM_BIN } from './test-helpers.ts';

let fx: Fixture;
before(() => {
  fx = new Fixture();
});
after(async () => {
  await fx.cleanup();
});

function fifo(name: string): string {
  const p = path.join(fx.root, name);
  mkfifo(p, 0o600);
  return p;
}

describe('task lifecycle', () => {
  test('create, start, wait, delete: exit code, json-file log, cleanup only after delete', async () => {
    const id = 'life';
    const bundle = fx.bundle(id, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    const shim = await fx.launch(id);
    assert.equal(shim.info.id, id);
    assert.equal(shim.info.spare, false);
    const events: ExitEvent[] = [];
    shim.on('exit', (e) => events.push(e));
    const log = path.join(fx.root, `${id}.log`);
    const uri = jsonFileUri(log, { 'max-size': '1m', 'max-file': '2' });
    const pid = await shim.create({ bundle, stdout: uri, stderr: uri, runtimeRoot: fx.runtimeRoot });
    assert.ok(pid > 0);
    assert.equal((await shim.state()).status, 'created');
    const waiting = shim.wait();
    assert.equal(await shim.start(), pid);
    const exit = await waiting;
    assert.equal(exit.status, 3);
    assert.equal(exit.exitCode, 3);
    assert.equal(exit.signal, null);
    assert.equal(exit.oomKilled, false);
    assert.ok(Date.parse(exit.exitedAt) >= Date.parse(exit.startedAt));
    assert.equal(logText(log, 'stdout'), 'out\n');
    assert.equal(logText(log, 'stderr'), 'err\n');
    await waitFor(() => events.length === 1, 'the exit event');
    assert.deepEqual(events[0], { id, execId: '', pid, exit });
    const st = await shim.state();
    assert.equal(st.status, 'stopped');
    assert.deepEqual(st.exit, exit);
    assert.deepEqual(readRecordedExit(fx.stateDir(id)), { pid, exit });
    assert.ok(existsSync(path.join(fx.stateDir(id), TASK_FILE)));

    // Exited but not deleted: the shim stays, with its socket and state.
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(isAlive(shim.info.pid) && existsSync(fx.socket(id)) && existsSync(path.join(fx.stateDir(id), EXIT_FILE)));
    assert.deepEqual(await shim.wait(), exit);

    const closed = new Promise<void>((r) => shim.once('close', () => r()));
    assert.deepEqual(await shim.delete(), { pid, exit });
    await closed;
    await waitFor(() => !isAlive(shim.info.pid), 'the shim to exit after delete');
    assert.ok(!existsSync(fx.socket(id)), 'socket removed');
    assert.ok(!existsSync(fx.stateDir(id)), 'state dir removed');
    assert.ok(!existsSync(path.join(fx.runtimeRoot, id)), 'runtime state removed');
    assert.deepEqual(cgroupProcesses(`${fx.cgroupParent}/${id}`), []);
  });

  test('kill, signals in the exit status, pause/resume, pids, stats, update', async () => {
    const id = 'sleeper';
    const bundle = fx.bundle(id, ['sleep', '1000']);
    const shim = await fx.launch(id);
    const pid = await shim.create({ bundle, runtimeRoot: fx.runtimeRoot });
    await shim.start();
    assert.equal((await shim.state()).status, 'running');
    assert.deepEqual(await shim.pids(), [{ pid }]);
    await shim.pause();
    assert.equal((await shim.state()).status, 'paused');
    await assert.rejects(shim.pause(), FailedPreconditionError);
    await assert.rejects(shim.delete(), /cannot delete task sleeper: it is paused/);
    await shim.resume();
    assert.equal((await shim.state()).status, 'running');
    const stats = await shim.stats() as { pids?: { current: number } };
    assert.equal(stats.pids?.current, 1);
    await shim.update({ pids: { limit: 50 } });
    // sleep is pid 1 of its namespace: a signal it has no handler for is ignored, except SIGKILL.
    await shim.kill('TERM');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await shim.state()).status, 'running');
    await shim.kill('KILL');
    const exit = await shim.wait();
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(exit.status, 137);
    await assert.rejects(shim.kill(9), NotFoundError);
    await shim.delete();
  });

  test('delete of a created task kills its init', async () => {
    const id = 'never';
    const shim = await fx.launch(id);
    await shim.create({ bundle: fx.bundle(id, ['true']), runtimeRoot: fx.runtimeRoot });
    const r = await shim.delete();
    assert.equal(r.exit.signal, 'SIGKILL');
    await waitFor(() => !isAlive(shim.info.pid), 'the shim to exit');
  });
});

describe('stdio', () => {
  test('stdin FIFO: callers come and go without EOF; closeStdin ends it', async () => {
    const id = 'cat';
    const stdin = fifo('cat.stdin');
    const log = path.join(fx.root, 'cat.log');
    const shim = await fx.launch(id);
    await shim.create({ bundle: fx.bundle(id, ['cat']), stdin, stdout: jsonFileUri(log), stderr: jsonFileUri(log), runtimeRoot: fx.runtimeRoot });
    await shim.start();
    for (const word of ['one\n', 'two\n']) {
      const w = openSync(stdin, fsc.O_WRONLY);
      writeSync(w, word);
      closeSync(w);
      await waitFor(() => logText(log).endsWith(word), `cat to echo ${word.trim()}`);
    }
    assert.equal((await shim.state()).status, 'running', 'a caller closing the FIFO is not EOF');
    await shim.closeStdin();
    const exit = await shim.wait();
    assert.equal(exit.exitCode, 0);
    assert.equal(logText(log), 'one\ntwo\n');
    await shim.delete();
  });

  test('output FIFOs (ctr style) and a terminal with resize', async () => {
    const id = 'tty';
    const stdin = fifo('tty.stdin');
    const stdout = fifo('tty.stdout');
    const reader = new net.Socket({ fd: openSync(stdout, fsc.O_RDONLY | fsc.O_NONBLOCK), readable: true, writable: false });
    let out = '';
    reader.on('data', (d: Buffer) => (out += d.toString()));
    const ended = new Promise((r) => reader.on('end', r));
    const shim = await fx.launch(id);
    await shim.create({ bundle: fx.bundle(id, ['sh'], { terminal: true }), stdin, stdout, terminal: true, runtimeRoot: fx.runtimeRoot });
    await shim.resizePty(100, 40);
    await shim.start();
    const w = openSync(stdin, fsc.O_WRONLY);
    writeSync(w, 'stty size; tty; exit 5\n');
    closeSync(w);
    const exit = await shim.wait();
    assert.equal(exit.exitCode, 5);
    await ended;
    assert.match(out, /40 100/);
    assert.match(out, /\/dev\/pts\/0/);
    await shim.delete();
  });

  test('attach: stdin in, stdout and stderr out, exit at the end', async () => {
    const id = 'attach';
    const stdin = fifo('attach.stdin');
    const shim = await fx.launch(id);
    await shim.create({ bundle: fx.bundle(id, ['sh', '-c', 'read x; echo got $x; echo oops >&2; exit 4']), stdin, runtimeRoot: fx.runtimeRoot });
    const a = await ShimClient.attach(fx.socket(id), { stdin: true, stdout: true, stderr: true });
    let out = '';
    let err = '';
    a.stdout.on('data', (d: Buffer) => (out += d.toString()));
    a.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await shim.start();
    a.stdin.write('hello\n');
    const exit = await a.exit;
    assert.equal(exit?.exitCode, 4);
    assert.equal(out, 'got hello\n');
    assert.equal(err, 'oops\n');
    await shim.delete();
  });
});

describe('exec', () => {
  test('exec with its own stdio and exit code; kill an exec; pids name it', async () => {
    const id = 'execs';
    const shim = await fx.launch(id);
    await shim.create({ bundle: fx.bundle(id, ['sleep', '1000']), runtimeRoot: fx.runtimeRoot });
    await shim.start();
    const out = path.join(fx.root, 'exec1.out');
    await shim.exec({ execId: 'e1', process: { args: ['sh', '-c', 'echo in $(hostname); exit 9'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }, stdout: `file://${out}` });
    assert.equal((await shim.state('e1')).status, 'created');
    const waiting = shim.wait('e1');
    const epid = await shim.start('e1');
    assert.ok(epid > 0);
    const exit = await waiting;
    assert.equal(exit.exitCode, 9);
    assert.equal(readFileSync(out, 'utf8'), 'in execs\n');
    await assert.rejects(shim.exec({ execId: 'e1', process: { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } } }), AlreadyExistsError);
    await shim.delete('e1');
    await assert.rejects(shim.state('e1'), NotFoundError);

    await shim.exec({ execId: 'e2', process: { args: ['sleep', '1000'], cwd: '/', user: { uid: 0, gid: 0 } } });
    const p2 = await shim.start('e2');
    assert.deepEqual((await shim.pids()).find((p) => p.pid === p2), { pid: p2, execId: 'e2' });
    await assert.rejects(shim.delete('e2'), FailedPreconditionError);
    await shim.kill('KILL', { execId: 'e2' });
    assert.equal((await shim.wait('e2')).signal, 'SIGKILL');
    await assert.rejects(shim.exec({ execId: 'bad id!', process: { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } } }), InvalidArgumentError);

    const ttyOut = path.join(fx.root, 'exec-tty.out');
    await shim.exec({
      execId: 'e3', terminal: true, consoleSize: { width: 77, height: 22 }, stdout: `file://${ttyOut}`,
      process: { args: ['sh', '-c', 'tty; stty size'], cwd: '/', terminal: true, user: { uid: 0, gid: 0 } },
    });
    await shim.start('e3');
    assert.equal((await shim.wait('e3')).exitCode, 0);
    assert.match(readFileSync(ttyOut, 'utf8'), /^\/dev\/pts\/\d+\r\n22 77\r\n$/);

    await shim.kill(9);
    await shim.wait();
    await shim.delete();
  });
});

describe('bad input', () => {
  test('refusals say why and leave nothing behind', async () => {
    const id = 'bad';
    const shim = await fx.launch(id);
    await assert.rejects(shim.start(), /task bad: not created/);
    await assert.rejects(shim.claim({ id: 'x', socket: '/tmp/x.sock', stateDir: '/tmp/x' }), FailedPreconditionError);
    await assert.rejects(shim.create({ bundle: path.join(fx.root, 'missing') }), NotFoundError);
    await assert.rejects(shim.create({ bundle: 'relative' }), InvalidArgumentError);
    await assert.rejects(shim.create({ bundle: fx.bundle(id, ['true']), stdout: 'ftp:///y', runtimeRoot: fx.runtimeRoot }), /unsupported scheme ftp/);
    await assert.rejects(shim.create({ bundle: fx.bundle(id, ['no-such-binary']), runtimeRoot: fx.runtimeRoot }), NotFoundError);
    assert.ok(!existsSync(path.join(fx.runtimeRoot, id)), 'no runtime state left by failed creates');
    assert.deepEqual(cgroupProcesses(fx.cgroupParent), []);
    assert.deepEqual(mountsUnder(fx.root), []);
    // The shim is still usable after failures.
    await shim.create({ bundle: fx.bundle(id, ['true']), runtimeRoot: fx.runtimeRoot });
    await assert.rejects(shim.create({ bundle: fx.bundle(id, ['true']) }), AlreadyExistsError);
    await assert.rejects(shim.shutdown(), /has not been deleted/);
    await shim.shutdown(true);
    await waitFor(() => !isAlive(shim.info.pid), 'the shim to exit after a forced shutdown');
    assert.ok(!existsSync(fx.stateDir(id)));
    assert.ok(!existsSync(path.join(fx.runtimeRoot, id)));
  });

  test('an old protocol version is refused', async () => {
    const id = 'version';
    const shim = await fx.launch(id);
    const raw = await ShimClient.connect(fx.socket(id));
    await assert.rejects(raw.call('hello', { version: 99 }), /version 99 is not supported/);
    raw.close();
    await shim.shutdown();
  });
});

describe('oom', () => {
  test('an OOM kill is reported as an event and in the exit status', async () => {
    const id = 'oom';
    const shim = await fx.launch(id);
    const ooms: string[] = [];
    shim.on('oom', (e) => ooms.push(e.id));
    // busybox tail keeps /dev/zero's one endless line in memory
    await shim.create({ bundle: fx.bundle(id, ['tail', '/dev/zero'], { memoryLimit: 16 * 1024 * 1024 }), runtimeRoot: fx.runtimeRoot });
    await shim.start();
    const exit = await shim.wait();
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(exit.oomKilled, true);
    await waitFor(() => ooms.length > 0, 'the oom event');
    assert.deepEqual(ooms[0], id);
    await shim.delete();
  });
});

describe('rootfs mounts', () => {
  test('mounted onto bundle/rootfs for the task and unmounted on delete', async () => {
    const id = 'mounts';
    const bundle = fx.bundle(id, ['ls', '/bin/busybox'], { emptyRootfs: true });
    const out = path.join(fx.root, 'mounts.out');
    const shim = await fx.launch(id);
    await shim.create({ bundle, rootfs: [{ type: 'bind', source: fx.rootfs, options: ['rbind', 'ro'] }], stdout: `file://${out}`, runtimeRoot: fx.runtimeRoot });
    assert.deepEqual(mountsUnder(path.join(bundle, 'rootfs')), [path.join(bundle, 'rootfs')]);
    await shim.start();
    assert.equal((await shim.wait()).exitCode, 0);
    assert.equal(readFileSync(out, 'utf8'), '/bin/busybox\n');
    await shim.delete();
    assert.deepEqual(mountsUnder(path.join(bundle, 'rootfs')), []);
  });

  test('an overlay rootfs leaves the mount table on delete; the host holds nothing of it after', async () => {
    const id = 'overlay';
    const bundle = fx.bundle(id, ['ls', '/bin/busybox'], { emptyRootfs: true });
    const layer = path.join(fx.root, 'overlay-layer');
    for (const d of ['upper', 'work']) mkdirSync(path.join(layer, d), { recursive: true });
    // A host with room for two tasks outlives this one, so what it still holds after the delete shows.
    const hostDir = path.join(fx.root, 'overlay-host');
    const l = await launchShim({ binary: SHIM_BIN, socket: path.join(hostDir, 'shim.sock'), stateDir: hostDir, capacity: 2 });
    fx.track(l.pid);
    const host = await ShimClient.connect(l.socket);
    await host.claim({ id, socket: fx.socket(id), stateDir: fx.stateDir(id) });
    const shim = await fx.connect(fx.socket(id));
    await shim.create({
      bundle, runtimeRoot: fx.runtimeRoot,
      rootfs: [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${fx.rootfs}`, `upperdir=${layer}/upper`, `workdir=${layer}/work`] }],
    });
    const rootfs = path.join(bundle, 'rootfs');
    const overlay = readFileSync(`/proc/${l.pid}/mountinfo`, 'utf8').split('\n').map((m) => m.split(' '))
      .find((f) => f[4] === rootfs && f.includes('overlay'));
    assert.ok(overlay, 'the overlay is mounted on the rootfs');
    const mountIdsHeld = () => readdirSync(`/proc/${l.pid}/fdinfo`).flatMap((fd) => {
      try {
        return [/^mnt_id:\s+(\d+)/m.exec(readFileSync(`/proc/${l.pid}/fdinfo/${fd}`, 'utf8'))?.[1]];
      } catch {
        return []; // closed meanwhile
      }
    });
    await shim.start();
    assert.equal((await shim.wait()).exitCode, 0);
    await shim.delete();
    assert.deepEqual(mountsUnder(rootfs), []);
    assert.ok(isAlive(l.pid));
    await waitFor(() => !mountIdsHeld().includes(overlay[0]), 'the host to let go of the overlay');
    await host.shutdown();
    await waitFor(() => !isAlive(l.pid), 'the host to exit');
  });
});
