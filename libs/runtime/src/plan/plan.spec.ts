import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { encodePlan, type CreatePlan } from './plan.ts';
import { DeviceTag, MountKind, MountTag, PlanMode, PlanTag, SyncType } from './tags.ts';

const header = readFileSync((createRequire(import.meta.url)('@berth/native') as { protocolHeader: string }).protocolHeader, 'utf8');

function enumOf(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of header.matchAll(new RegExp(`\\b${prefix}_([A-Z0-9_]+)\\s*=\\s*(\\d+)`, 'g'))) out.set(m[1]!, Number(m[2]));
  return out;
}

describe('plan tags mirror native/src/common/protocol.h', () => {
  const cases: [string, Record<string, number>, (k: string) => boolean][] = [
    ['PLAN', PlanTag, (k) => !k.startsWith('MODE_')],
    ['PLAN_MODE', PlanMode, () => true],
    ['MOUNT', MountTag, (k) => !k.startsWith('KIND_')],
    ['MOUNT_KIND', MountKind, () => true],
    ['DEVICE', DeviceTag, () => true],
    ['SYNC', SyncType, (k) => k !== 'TEXT_MAX'],
  ];
  for (const [prefix, ts, keep] of cases) {
    it(`${prefix}_*`, () => {
      const c = new Map([...enumOf(prefix)].filter(([k]) => keep(k)));
      const t = new Map(Object.entries(ts).filter(([k]) => k !== 'EOF'));
      assert.deepEqual(Object.fromEntries(t), Object.fromEntries(c));
    });
  }
});

describe('encodePlan', () => {
  it('writes TLV records the C decoder reads: tag, zero, length, payload', () => {
    const plan: CreatePlan = {
      mode: 'create', cgroupTasks: ['/sys/fs/cgroup/cpu/x/tasks'], cgroupProcs: ['/sys/fs/cgroup/pids/x/cgroup.procs'], joins: [], cloneFlags: 0x20000, rootfs: '/r',
      rootfsPropagation: 0, readonlyRootfs: false, noPivot: false, mounts: [], devices: [], maskedPaths: [], readonlyPaths: [],
      sysctls: [], fifo: '/s/exec.fifo', hooksSync: false, mkdirCwd: true,
      process: {
        args: ['sh'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [], noNewPrivileges: false, rlimits: [],
        terminal: false, setgroups: true,
      },
    };
    const buf = encodePlan(plan);
    const records: [number, Buffer][] = [];
    for (let off = 0; off < buf.length;) {
      const tag = buf.readUInt16LE(off);
      assert.equal(buf.readUInt16LE(off + 2), 0);
      const len = buf.readUInt32LE(off + 4);
      records.push([tag, buf.subarray(off + 8, off + 8 + len)]);
      off += 8 + len;
    }
    const get = (tag: number) => records.filter(([t]) => t === tag).map(([, b]) => b);
    assert.equal(get(PlanTag.MODE)[0]!.readUInt32LE(0), PlanMode.CREATE);
    assert.equal(get(PlanTag.ROOTFS)[0]!.toString(), '/r\0');
    assert.equal(get(PlanTag.ARG)[0]!.toString(), 'sh\0');
    assert.equal(get(PlanTag.CLONE_FLAGS)[0]!.readUInt32LE(0), 0x20000);
  });

  it('encodes non-ASCII strings as UTF-8', async () => {
    const { TlvWriter } = await import('./writer.ts');
    const buf = new TlvWriter().str(1, 'a/é/日本', 'x').toBuffer();
    assert.equal(buf.readUInt32LE(4), Buffer.byteLength('a/é/日本') + 3);
    assert.deepEqual(buf.subarray(8), Buffer.from('a/é/日本\0x\0'));
  });

  it('refuses strings with NUL bytes', () => {
    assert.throws(() => encodePlan({
      mode: 'exec', cgroupTasks: [], cgroupProcs: [], joins: [],
      process: { args: ['a\0b'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [], noNewPrivileges: false, rlimits: [], terminal: false, setgroups: true },
    }), /NUL/);
  });
});
