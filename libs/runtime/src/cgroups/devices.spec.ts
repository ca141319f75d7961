// The cgroup v2 device filter (a BPF program) against the real kernel: on this project's hybrid machines the
// empty cgroup2 hierarchy at /sys/fs/cgroup/unified accepts BPF device programs just as a pure v2 root does.
import { removeCgroupTree, run, testCgroupParent } from '@berth/testing';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { detectCgroupLayout } from './layout.ts';
import { CgroupV2, bpfDeviceRules } from './v2.ts';

const layout = detectCgroupLayout();
const unified = layout.unified;

describe('cgroup v2 device filter (BPF)', { skip: unified ? false : 'no cgroup2 hierarchy on this machine' }, () => {
  const parent = testCgroupParent();
  after(() => removeCgroupTree(parent));

  it('converts spec rules to the program\'s form', () => {
    assert.deepEqual(bpfDeviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: null, access: 'rw' }]), [
      { type: 'a', major: -1, minor: -1, access: 7, allow: false },
      { type: 'c', major: 1, minor: -1, access: 6, allow: true },
    ]);
  });

  it('enforces v1 semantics: deny all, then allow some devices with some access; the last matching rule wins', async () => {
    const cg = new CgroupV2({ mode: 'v2', hierarchies: [], unified: unified! }, `${parent}/dev`);
    cg.create({
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
        { allow: true, type: 'c', major: 1, minor: 5, access: 'r' }, // zero: read only
        { allow: true, type: 'c', major: 1, minor: 9, access: 'rw' }, // urandom…
        { allow: false, type: 'c', major: 1, minor: 9, access: 'r' }, // …but not for reading
      ],
    });
    const procs = path.join(cg.dir, 'cgroup.procs');
    const r = await run('sh', ['-c', [
      `echo $$ > ${procs}`,
      'head -c1 /dev/zero >/dev/null && echo zero-read',
      '(echo x > /dev/zero) 2>/dev/null || echo zero-write-denied',
      'echo x > /dev/null && echo null-write',
      '(head -c1 /dev/urandom >/dev/null) 2>/dev/null || echo urandom-read-denied',
      '(head -c1 /dev/full >/dev/null) 2>/dev/null || echo full-denied',
    ].join('; ')]);
    assert.equal(r.stdout, 'zero-read\nzero-write-denied\nnull-write\nurandom-read-denied\nfull-denied\n', r.stderr);

    // an update replaces the program: now everything is allowed again
    cg.update({ devices: [{ allow: true, access: 'rwm' }] });
    const again = await run('sh', ['-c', `echo $$ > ${procs}; head -c1 /dev/full >/dev/null && echo full-read`]);
    assert.equal(again.stdout, 'full-read\n', again.stderr);
    await cg.destroy();
    assert.equal(existsSync(cg.dir), false);
  });
});
