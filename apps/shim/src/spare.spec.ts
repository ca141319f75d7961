// Warm spares: started ahead, claimed with a task id (socket and state dir move to the task's paths).
import { FailedPreconditionError } from '@berth/errdefs';
import { ShimClient, SparePool } from '@berth/shim-protocol';
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

test('a spare is claimed, runs a task, and the pool refills; close() shuts the unclaimed spares', async () => {
  const dir = path.join(fx.root, 'spares');
  const pool = new SparePool({ binary: SHIM_BIN, dir, size: 2 });
  try {
    await pool.start();
    await pool.waitReady();
    const spares = readdirSync(dir);
    assert.equal(spares.length, 2);
    const spareSockets = spares.map((s) => path.join(dir, s, 'shim.sock'));
    const probe = await ShimClient.connect(spareSockets[0]!);
    assert.equal(probe.info.spare, true);
    assert.equal(probe.info.id, '');
    fx.track(probe.info.pid);
    await assert.rejects(probe.create({ bundle: fx.bundle('x', ['true']) }), FailedPreconditionError);
    probe.close();

    const id = 'claimed';
    const shim = await pool.claim({ id, namespace: 'test', socket: fx.socket(id), stateDir: fx.stateDir(id) });
    fx.track(shim.info.pid);
    assert.ok(existsSync(fx.socket(id)) && existsSync(fx.stateDir(id)));
    const hello = await ShimClient.connect(fx.socket(id));
    assert.deepEqual([hello.info.id, hello.info.namespace, hello.info.spare], [id, 'test', false]);
    hello.close();
    await assert.rejects(shim.claim({ id: 'again', socket: fx.socket('again'), stateDir: fx.stateDir('again') }), /already the shim of task claimed/);
    await shim.create({ bundle: fx.bundle(id, ['sh', '-c', 'exit 6']), runtimeRoot: fx.runtimeRoot });
    await shim.start();
    assert.equal((await shim.wait()).exitCode, 6);
    await shim.delete();
    await waitFor(() => !isAlive(shim.info.pid), 'the claimed shim to exit after delete');
    assert.ok(!existsSync(fx.stateDir(id)));

    await pool.waitReady(2);
    const ready = readdirSync(dir);
    assert.equal(ready.length, 2, 'refilled');
    for (const s of ready) fx.track((await ShimClient.connect(path.join(dir, s, 'shim.sock'))).info.pid);
  } finally {
    await pool.close();
  }
  await waitFor(() => readdirSync(dir).length === 0, 'spares to remove their state on shutdown');
});

test('a restarted pool adopts the spares a previous one left', async () => {
  const dir = path.join(fx.root, 'spares2');
  const first = new SparePool({ binary: SHIM_BIN, dir, size: 1 });
  await first.start();
  await first.waitReady();
  const [name] = readdirSync(dir);
  const pid = (await fx.connect(path.join(dir, name!, 'shim.sock'))).info.pid;
  // The caller goes away leaving its spare for the next one.
  await first.close({ keepSpares: true });
  assert.ok(isAlive(pid));
  const second = new SparePool({ binary: SHIM_BIN, dir, size: 1 });
  await second.start();
  assert.equal(second.available, 1);
  assert.deepEqual(readdirSync(dir), [name]);
  const shim = await second.claim({ id: 'adopted', socket: fx.socket('adopted'), stateDir: fx.stateDir('adopted') });
  assert.equal(shim.info.pid, pid);
  await shim.shutdown();
  await second.close();
  await waitFor(() => !isAlive(pid), 'the adopted spare to exit');
});
