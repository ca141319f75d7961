// Stress: 500 containers created, started, waited for and deleted one after another, then 50 at once, without
// a hang or a leaked mount, cgroup, process or fd. Runs `true` so the cost is the runtime's own.
import { tempDir } from '@berth/testing';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitExit } from './exits.ts';
import { Fixture, childPids, mountsMentioning, openFds } from './test-support.ts';

describe('stress', () => {
  const tmp = tempDir();
  let fx: Fixture;
  before(() => {
    fx = new Fixture(tmp.path);
  });
  after(async () => {
    try {
      await fx.cleanup();
    } finally {
      tmp[Symbol.dispose]();
    }
  });

  const cycle = async (id: string, bundle: string) => {
    const { pid } = await fx.rt.create(id, { bundle });
    const exited = waitExit(pid);
    await fx.rt.start(id);
    const s = await exited;
    assert.equal(s.status, 0);
    await fx.rt.delete(id);
  };

  const leaks = () => ({
    fds: openFds(),
    children: childPids().length,
    mounts: mountsMentioning(tmp.path).length,
    cgroups: readdirSync(path.join('/sys/fs/cgroup/memory', fx.cgroupParent)).filter((d) => !d.includes('.')).length,
    containers: fx.rt.list().length,
  });

  it('500 containers in a row', async () => {
    const id0 = fx.id('s');
    const bundle = fx.bundle(id0, fx.spec(id0, ['true'], (s) => {
      s.linux!.cgroupsPath = `${fx.cgroupParent}/seq`;
    }));
    await cycle(id0, bundle); // warm up (creates the cgroup parent)
    const before = leaks();
    for (let i = 0; i < 500; i++) await cycle(`seq-${i}`, bundle);
    assert.deepEqual(leaks(), before);
    assert.equal(existsSync(path.join('/sys/fs/cgroup/memory', fx.cgroupParent, 'seq')), false);
  });

  it('50 containers at once', async () => {
    const before = leaks();
    const ids = Array.from({ length: 50 }, (_, i) => `par-${i}`);
    const bundles = ids.map((id) => fx.bundle(id, fx.spec(id, ['true'])));
    await Promise.all(ids.map((id, i) => cycle(id, bundles[i]!)));
    assert.deepEqual(leaks(), before);
  });
});
