// Unit tests of the cgroup drivers against fake trees (plain directories): the v2 logic cannot run on this
// project's hybrid CI machine, so its file-level behaviour is checked here; the real kernel is exercised by
// runtime.spec.ts.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '@berth/testing';
import { cgroupPathFor, expandSlice, layoutFromMounts, parseCgroupMounts } from './layout.ts';
import { CgroupV1 } from './v1.ts';
import { CgroupV2, sharesToWeight } from './v2.ts';

const MOUNTINFO = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 / /proc rw - proc proc rw`;

describe('cgroup layout', () => {
  it('detects hybrid mode and the v1 hierarchies from mountinfo', () => {
    const l = layoutFromMounts(parseCgroupMounts(MOUNTINFO), false);
    assert.equal(l.mode, 'hybrid');
    assert.equal(l.unified, '/sys/fs/cgroup/unified');
    assert.deepEqual(l.hierarchies.map((h) => h.controllers.join(',')), ['cpu,cpuacct', 'cpuset', 'memory', 'name=systemd']);
    assert.equal(layoutFromMounts([], true).mode, 'v2');
    assert.equal(layoutFromMounts(parseCgroupMounts(MOUNTINFO.split('\n').filter((l) => !l.includes('cgroup2')).join('\n')), false).mode, 'v1');
  });

  it('turns cgroupsPath into a path under each root', () => {
    assert.equal(cgroupPathFor('abc', '/docker/abc'), '/docker/abc');
    assert.equal(cgroupPathFor('abc', 'rel/abc'), '/rel/abc');
    assert.equal(cgroupPathFor('abc', undefined), '/abc');
    assert.equal(cgroupPathFor('abc', 'system.slice:docker:abc', true), '/system.slice/docker-abc.scope');
    assert.equal(expandSlice('user-1000.slice'), '/user.slice/user-1000.slice');
    assert.throws(() => cgroupPathFor('abc', '/a/../../etc'), /must not contain/);
  });
});

describe('cgroup v2 driver (fake tree)', () => {
  const tmp = tempDir();
  after(() => tmp[Symbol.dispose]());
  const root = path.join(tmp.path, 'v2');
  mkdirSync(path.join(root, 'parent'), { recursive: true });
  writeFileSync(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
  writeFileSync(path.join(root, 'cgroup.subtree_control'), '');
  writeFileSync(path.join(root, 'parent', 'cgroup.controllers'), 'cpu memory pids\n');
  writeFileSync(path.join(root, 'parent', 'cgroup.subtree_control'), 'memory\n');
  const cg = new CgroupV2({ mode: 'v2', hierarchies: [], unified: root }, '/parent/ctr');
  const read = (f: string) => readFileSync(path.join(root, 'parent/ctr', f), 'utf8');

  it('enables controllers down the tree and converts limits the v2 way', () => {
    mkdirSync(path.join(root, 'parent/ctr'));
    writeFileSync(path.join(root, 'parent/ctr/memory.swap.max'), 'max\n'); // swap accounting is on
    cg.create({
      memory: { limit: 64 * 1024 * 1024, swap: 96 * 1024 * 1024, reservation: 32 * 1024 * 1024 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '0' },
      pids: { limit: 20 },
      blockIO: { weight: 300, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] },
      unified: { 'memory.oom.group': '1' },
    });
    assert.equal(readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8'), '+cpuset +cpu +io +memory +pids +hugetlb');
    assert.equal(readFileSync(path.join(root, 'parent', 'cgroup.subtree_control'), 'utf8'), '+cpu +pids');
    assert.equal(read('memory.max'), String(64 * 1024 * 1024));
    assert.equal(read('memory.swap.max'), String(32 * 1024 * 1024));
    assert.equal(read('memory.low'), String(32 * 1024 * 1024));
    assert.equal(read('cpu.weight'), String(sharesToWeight(512)));
    assert.equal(read('cpu.max'), '50000 100000');
    assert.equal(read('cpuset.cpus'), '0-1');
    assert.equal(read('pids.max'), '20');
    assert.equal(read('io.max'), '8:0 rbps=1048576');
    assert.equal(read('memory.oom.group'), '1');
    assert.deepEqual(cg.procsFiles(), [path.join(root, 'parent/ctr/cgroup.procs')]);
    assert.deepEqual(cg.joinPlan(), { tasks: [], procs: [], cgroupDir: path.join(root, 'parent/ctr') }, 'cloned straight into its cgroup');
  });

  it('maps shares to weight as runc does', () => {
    assert.equal(sharesToWeight(2), 1);
    assert.equal(sharesToWeight(1024), 39);
    assert.equal(sharesToWeight(262144), 10000);
  });

  it('reads stats, pids and the freezer from v2 files', async () => {
    const dir = path.join(root, 'parent/ctr');
    writeFileSync(path.join(dir, 'memory.current'), '1048576\n');
    writeFileSync(path.join(dir, 'memory.stat'), 'anon 4096\nfile 8192\n');
    writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    writeFileSync(path.join(dir, 'cpu.stat'), 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 10\n');
    writeFileSync(path.join(dir, 'pids.current'), '3\n');
    writeFileSync(path.join(dir, 'io.stat'), '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n');
    writeFileSync(path.join(dir, 'cgroup.procs'), '10\n11\n');
    writeFileSync(path.join(dir, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    const s = cg.stats();
    assert.equal(s.memory.usage.usage, 1048576);
    assert.equal(s.memory.usage.failcnt, 3);
    assert.equal(s.memory.cache, 8192);
    assert.equal(s.cpu.usage.total, 2_000_000);
    assert.equal(s.cpu.throttling.throttledPeriods, 1);
    assert.equal(s.pids.current, 3);
    assert.equal(s.pids.limit, 20);
    assert.deepEqual(s.blkio.ioServiceBytesRecursive, [{ major: 8, minor: 0, op: 'Read', value: 100 }, { major: 8, minor: 0, op: 'Write', value: 200 }]);
    assert.equal(cg.oomKillCount(), 1);
    assert.deepEqual(cg.pids(), [10, 11]);
    await cg.freeze();
    assert.equal(read('cgroup.freeze'), '1');
    assert.equal(cg.isFrozen(), true);
    await cg.thaw();
    assert.equal(cg.isFrozen(), false);
  });
});

describe('cgroup v1 driver (fake tree)', () => {
  const tmp = tempDir();
  after(() => tmp[Symbol.dispose]());
  const base = tmp.path;
  const hier = (name: string) => path.join(base, name);
  for (const n of ['cpu,cpuacct', 'cpuset', 'memory', 'devices', 'pids', 'freezer', 'unified']) mkdirSync(hier(n), { recursive: true });
  writeFileSync(path.join(hier('cpuset'), 'cpuset.cpus'), '0-3\n');
  writeFileSync(path.join(hier('cpuset'), 'cpuset.mems'), '0\n');
  const layout = {
    mode: 'hybrid' as const,
    hierarchies: [
      { controllers: ['cpu', 'cpuacct'], mountpoint: hier('cpu,cpuacct') }, { controllers: ['cpuset'], mountpoint: hier('cpuset') },
      { controllers: ['memory'], mountpoint: hier('memory') }, { controllers: ['devices'], mountpoint: hier('devices') },
      { controllers: ['pids'], mountpoint: hier('pids') }, { controllers: ['freezer'], mountpoint: hier('freezer') },
    ],
    unified: hier('unified'),
  };
  const cg = new CgroupV1(layout, '/a/b');

  it('creates every hierarchy, copies cpuset from the parent and writes v1 limits', () => {
    cg.create({
      memory: { limit: 64 * 1024 * 1024, swap: 128 * 1024 * 1024, reservation: 1024 * 1024 },
      cpu: { shares: 512, quota: 20000, period: 100000 },
      pids: { limit: 0 },
      devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 136, minor: null, access: 'rwm' }],
    });
    const r = (h: string, f: string) => readFileSync(path.join(hier(h), 'a/b', f), 'utf8');
    assert.equal(readFileSync(path.join(hier('cpuset'), 'a', 'cpuset.cpus'), 'utf8'), '0-3');
    assert.equal(r('cpuset', 'cpuset.mems'), '0');
    assert.equal(r('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
    assert.equal(r('memory', 'memory.soft_limit_in_bytes'), String(1024 * 1024));
    assert.equal(r('cpu,cpuacct', 'cpu.shares'), '512');
    assert.equal(r('cpu,cpuacct', 'cpu.cfs_quota_us'), '20000');
    assert.equal(r('pids', 'pids.max'), 'max');
    // a plain file keeps only the last write: the allow rule for the pty major came last
    assert.equal(r('devices', 'devices.allow'), 'c 136:* rwm');
    assert.equal(r('devices', 'devices.deny'), 'a *:* rwm');
    assert.equal(cg.procsFiles().length, 7);
    assert.ok(cg.procsFiles().includes(path.join(hier('unified'), 'a/b/cgroup.procs')));
    // no pids limit: the helper moves itself into every v1 hierarchy through `tasks`, no pid to write
    const join = cg.joinPlan();
    assert.equal(join.tasks.length, 6);
    assert.ok(join.tasks.includes(path.join(hier('pids'), 'a/b/tasks')));
    assert.deepEqual(join.procs, []);
    assert.equal(join.cgroupDir, path.join(hier('unified'), 'a/b'));
    // a pids limit (about to be set, or already set): the pids hierarchy gets the child's pid instead
    const limited = cg.joinPlan({ pids: { limit: 1 } });
    assert.deepEqual(limited.procs, [path.join(hier('pids'), 'a/b/cgroup.procs')]);
    assert.equal(limited.tasks.length, 5);
    cg.update({ pids: { limit: 5 } });
    assert.deepEqual(cg.joinPlan().procs, [path.join(hier('pids'), 'a/b/cgroup.procs')]);
  });

  it('skips an allow rule repeated without a deny in between, keeps one after a deny', () => {
    const dev = (allow: boolean, minor: number) => ({ allow, type: 'c', major: 1, minor, access: 'rwm' });
    const r = (f: string) => readFileSync(path.join(hier('devices'), 'a/b', f), 'utf8');
    // a plain file keeps only the last write: a skipped repeat leaves the rule before it
    cg.update({ devices: [{ allow: false, access: 'rwm' }, dev(true, 3), dev(true, 5), dev(true, 3)] });
    assert.equal(r('devices.allow'), 'c 1:5 rwm');
    cg.update({ devices: [{ allow: false, access: 'rwm' }, dev(true, 3), dev(false, 9), dev(true, 3)] });
    assert.equal(r('devices.allow'), 'c 1:3 rwm');
    assert.equal(r('devices.deny'), 'c 1:9 rwm');
  });

  it('rejects limits the kernel would refuse, before writing anything', () => {
    assert.throws(() => cg.update({ memory: { limit: 1024 } }), /below the minimum/);
    assert.throws(() => cg.update({ memory: { limit: 64 * 1024 * 1024, swap: 1024 * 1024 * 10 } }), /must not be lower/);
  });
});
