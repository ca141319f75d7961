// The shim's side of reaping: this test process becomes a subreaper (its own process, as node:test runs each
// file in one), inherits orphans from a container that shares its pid namespace, and must neither lose the
// status of its own containers nor steal child_process's children.
import { tempDir, waitFor } from '@berth/testing';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { markForeign, setChildSubreaper, startReaper, waitExit, type ExitStatus, type Reaper } from './exits.ts';
import { Fixture } from './test-support.ts';

describe('subreaper', () => {
  const tmp = tempDir();
  let fx: Fixture;
  let reaper: Reaper;
  const orphans = new Map<number, ExitStatus>();
  before(() => {
    fx = new Fixture(tmp.path);
    setChildSubreaper();
    reaper = startReaper({ onOrphanExit: (pid, s) => orphans.set(pid, s) });
  });
  after(async () => {
    reaper.stop();
    try {
      await fx.cleanup();
    } finally {
      tmp[Symbol.dispose]();
    }
  });

  it('reaps orphans re-parented to it and reports them', async () => {
    const id = fx.id();
    const bundle = fx.bundle(id, fx.spec(id, ['sh', '-c', 'sleep 0.3 & echo $! > /dev/shm/orphan'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
      s.mounts = s.mounts!.filter((m) => m.destination !== '/dev/shm');
      s.mounts.push({ destination: '/dev/shm', type: 'bind', source: tmp.path, options: ['rbind'] });
    }));
    const { pid } = await fx.rt.create(id, { bundle });
    const exited = waitExit(pid);
    await fx.rt.start(id);
    assert.equal((await exited).status, 0);
    const orphan = Number(readFileSync(path.join(tmp.path, 'orphan'), 'utf8'));
    await waitFor(() => orphans.has(orphan), `orphan ${orphan} to be reaped`, 5_000);
    assert.deepEqual(orphans.get(orphan), { exitCode: 0, signal: null, status: 0 });
    await fx.rt.delete(id);
  });

  it('keeps the status of its own containers when the sweep reaps them first', async () => {
    const id = fx.id();
    const bundle = fx.bundle(id, fx.spec(id, ['sh', '-c', 'exit 9']));
    const { pid } = await fx.rt.create(id, { bundle });
    await fx.rt.start(id);
    await waitFor(() => fx.rt.state(id).status === 'stopped', 'the container to stop');
    await new Promise((r) => setTimeout(r, 50)); // let the SIGCHLD sweep run
    assert.deepEqual(await waitExit(pid), { exitCode: 9, signal: null, status: 9 });
    assert.equal(orphans.has(pid), false);
    await fx.rt.delete(id);
  });

  it('leaves child_process children to libuv', async () => {
    const codes = await Promise.all(Array.from({ length: 5 }, async (_, i) => {
      const child = spawn('sh', ['-c', `exit ${i}`]);
      markForeign(child.pid!, true);
      const [code] = (await once(child, 'exit')) as [number];
      markForeign(child.pid!, false);
      return code;
    }));
    assert.deepEqual(codes, [0, 1, 2, 3, 4]);
  });
});
