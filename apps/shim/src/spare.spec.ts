// Warm shims: hosts started ahead, claimed with a task id; several tasks per process when asked.
import { FailedPreconditionError, ResourceExhaustedError } from '@berth/errdefs';
import { launchShim, ShimClient, SparePool } from '@berth/shim-protocol';
import { waitFor } from '@berth/testing';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Fixture, isAlive, SHIM_BIN } from './test-helpers.ts';

let fx: Fixture;
before(() => {
  fx = new Fixture();
});
after(async () => {
  await fx.cleanup();
});

test('a spare is claimed, runs a task, is reused or trimmed after; close() shuts the spares down', async () => {
  const dir = path.join(fx.root, 'spares');
  const pool = new SparePool({ binary: SHIM_BIN, dir, size: 2, idleMs: 100, tasksPerShim: 1 });
  try {
    await pool.start();
    await pool.waitReady();
    assert.equal(readdirSync(dir).length, 2);
    const probe = await fx.connect(path.join(dir, readdirSync(dir)[0]!, 'shim.sock'));
    assert.deepEqual([probe.info.spare, probe.info.id, probe.info.tasks, probe.info.capacity], [true, '', 0, 1]);
    await assert.rejects(probe.create({ bundle: fx.bundle('x', ['true']) }), /this is a shim host socket/);
    probe.close();

    const id = 'claimed';
    const shim = await pool.claim({ id, namespace: 'test', socket: fx.socket(id), stateDir: fx.stateDir(id) });
    assert.ok(existsSync(fx.socket(id)) && existsSync(fx.stateDir(id)));
    assert.deepEqual([shim.info.id, shim.info.namespace, shim.info.spare, shim.info.tasks], [id, 'test', false, 1]);
    await assert.rejects(shim.claim({ id: 'again', socket: fx.socket('again'), stateDir: fx.stateDir('again') }), /already the shim of task claimed/);
    await shim.create({ bundle: fx.bundle(id, ['sh', '-c', 'exit 6']), runtimeRoot: fx.runtimeRoot });
    await shim.start();
    assert.equal((await shim.wait()).exitCode, 6);
    await pool.waitReady(2);
    await shim.delete();
    // The task's socket and state are gone; its process is a spare again (reused, or trimmed by the pool).
    await waitFor(() => !existsSync(fx.socket(id)) && !existsSync(fx.stateDir(id)), 'the task endpoint to be removed');
    await waitFor(() => pool.processes === 2 && readdirSync(dir).length === 2, 'the pool to trim the surplus spare');
    assert.ok(isAlive(shim.info.pid) || readdirSync(dir).length === 2);
  } finally {
    await pool.close();
  }
  await waitFor(() => readdirSync(dir).length === 0, 'spares to remove their dirs on shutdown');
});

test('a restarted pool adopts the hosts a previous one left', async () => {
  const dir = path.join(fx.root, 'spares2');
  const first = new SparePool({ binary: SHIM_BIN, dir, size: 1, tasksPerShim: 1 });
  await first.start();
  await first.waitReady();
  const [name] = readdirSync(dir);
  const pid = (await fx.connect(path.join(dir, name!, 'shim.sock'))).info.pid;
  // The caller goes away leaving its spare for the next one.
  await first.close({ keepSpares: true });
  assert.ok(isAlive(pid));
  const second = new SparePool({ binary: SHIM_BIN, dir, size: 1, tasksPerShim: 1 });
  await second.start();
  assert.equal(second.available, 1);
  assert.deepEqual(readdirSync(dir), [name]);
  const shim = await second.claim({ id: 'adopted', socket: fx.socket('adopted'), stateDir: fx.stateDir('adopted') });
  assert.equal(shim.info.pid, pid);
  await shim.shutdown();
  await second.close();
  await waitFor(() => !isAlive(pid), 'the adopted host to exit');
});

test('several tasks in one shim process: separate sockets and states, shared fate only of the process', async () => {
  const hostDir = path.join(fx.root, 'host3');
  const l = await launchShim({ binary: SHIM_BIN, socket: path.join(hostDir, 'shim.sock'), stateDir: hostDir, capacity: 3 });
  fx.track(l.pid);
  const host = await ShimClient.connect(l.socket);
  const loads: number[] = [];
  host.on('load', (e) => loads.push(e.tasks));
  const ids = ['m1', 'm2', 'm3'];
  const shims: ShimClient[] = [];
  for (const [i, id] of ids.entries()) {
    assert.deepEqual(await host.claim({ id, socket: fx.socket(id), stateDir: fx.stateDir(id) }), { pid: l.pid });
    const s = await fx.connect(fx.socket(id));
    assert.deepEqual([s.info.id, s.info.pid, s.info.tasks, s.info.capacity], [id, l.pid, i + 1, 3]);
    await s.create({ bundle: fx.bundle(id, ['sh', '-c', `sleep 0.${i + 2}; exit ${10 + i}`]), runtimeRoot: fx.runtimeRoot });
    await s.start();
    shims.push(s);
  }
  await assert.rejects(host.claim({ id: 'm4', socket: fx.socket('m4'), stateDir: fx.stateDir('m4') }), ResourceExhaustedError);
  await assert.rejects(host.shutdown(), /holds 3 tasks/);
  await assert.rejects(host.start(), FailedPreconditionError);
  for (const [i, s] of shims.entries()) assert.equal((await s.wait()).exitCode, 10 + i);
  // Deleting one task leaves the others and the process alone.
  await shims[0]!.delete();
  await waitFor(() => !existsSync(fx.stateDir('m1')), 'the first task endpoint to go');
  assert.ok(isAlive(l.pid));
  assert.equal((await shims[1]!.state()).exit?.exitCode, 11);
  await shims[1]!.delete();
  await shims[2]!.delete();
  await waitFor(() => loads.at(-1) === 0, 'the host to report no tasks');
  assert.deepEqual(loads, [1, 2, 3, 2, 1, 0]);
  // Empty again: a spare that takes a new task.
  await host.claim({ id: 'm5', socket: fx.socket('m5'), stateDir: fx.stateDir('m5') });
  const s5 = await fx.connect(fx.socket('m5'));
  await s5.shutdown();
  await waitFor(() => loads.length === 8 && loads.at(-1) === 0, 'the host to report the task gone');
  await host.shutdown();
  await waitFor(() => !isAlive(l.pid), 'the host to exit');
  assert.ok(!existsSync(hostDir));
});

test('a pool packs tasks into hosts of tasksPerShim', async () => {
  const dir = path.join(fx.root, 'packed');
  const pool = new SparePool({ binary: SHIM_BIN, dir, size: 1, tasksPerShim: 4 });
  try {
    await pool.start();
    await pool.waitReady();
    const pids = new Set<number>();
    const shims: ShimClient[] = [];
    for (let i = 0; i < 6; i++) {
      const id = `p${i}`;
      const s = await pool.claim({ id, socket: fx.socket(id), stateDir: fx.stateDir(id) });
      pids.add(s.info.pid);
      shims.push(s);
    }
    assert.equal(pids.size, 2, 'six tasks in two processes of four');
    for (const s of shims) await s.shutdown();
    await waitFor(() => pool.available === pool.processes * 4, 'the hosts to report their tasks gone');
  } finally {
    await pool.close();
  }
  await waitFor(() => readdirSync(dir).length === 0, 'hosts to exit');
});
