import type { LinuxSeccomp } from '@berth/oci';
import { tempDir } from '@berth/testing';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseSignal } from '../signals.ts';
import { capabilityMask, capabilityNames } from './capabilities.ts';
import { MS, parseMountOptions, parsePropagation } from './mount-options.ts';
import { rlimitNumber, toU64 } from './rlimits.ts';
import { compileSeccomp, profileKey, seccompProfile } from './seccomp.ts';

describe('mount options', () => {
  it('maps flags, clears, propagation and data like runc', () => {
    const o = parseMountOptions(['nosuid', 'noexec', 'ro', 'rw', 'rbind', 'rslave', 'mode=755', 'size=65536k', 'tmpcopyup']);
    assert.equal(o.flags, MS.NOSUID | MS.NOEXEC | MS.BIND | MS.REC);
    assert.equal(o.propagation, MS.SLAVE | MS.REC);
    assert.equal(o.data, 'mode=755,size=65536k');
    assert.equal(o.bind, true);
    assert.equal(parsePropagation('rprivate'), MS.PRIVATE | MS.REC);
    assert.throws(() => parsePropagation('sideways'), /unknown rootfsPropagation/);
  });
});

describe('capabilities', () => {
  it('turns names into masks and reports unknown ones', () => {
    const unknown = new Set<string>();
    // Docker's default set: CapEff 00000000a80425fb
    const docker = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
      'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];
    assert.equal(capabilityMask(docker, unknown).toString(16), 'a80425fb');
    assert.equal(capabilityMask(['CAP_NOT_A_THING'], unknown), 0n);
    assert.deepEqual([...unknown], ['CAP_NOT_A_THING']);
    assert.deepEqual(capabilityNames(0x20000420n), ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE']);
  });
});

describe('rlimits and signals', () => {
  it('maps rlimit names and clamps unlimited values', () => {
    assert.equal(rlimitNumber('RLIMIT_NOFILE'), 7);
    assert.equal(rlimitNumber('RLIMIT_BOGUS'), undefined);
    assert.equal(toU64(1024), 1024n);
    assert.equal(toU64(2 ** 64), (1n << 64n) - 1n); // JSON's 18446744073709551615 parses to 2^64
  });
  it('accepts numbers and names in every spelling runc does', () => {
    assert.equal(parseSignal('9'), 9);
    assert.equal(parseSignal('KILL'), 9);
    assert.equal(parseSignal('sigterm'), 15);
    assert.equal(parseSignal(2), 2);
    assert.equal(parseSignal('RTMIN+1'), 35);
    assert.throws(() => parseSignal('SIGNOPE'), /unknown signal/);
  });
});

describe('seccomp profile conversion', () => {
  it('maps actions with errno, operators, architectures and flags', () => {
    const { profile, flags } = seccompProfile({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    assert.equal(profile.defaultAction, 0x00050001);
    assert.deepEqual(profile.architectures, ['x86_64', 'x86']);
    assert.equal(flags, 2);
    assert.deepEqual(profile.syscalls.map((s) => [s.name, s.action]), [
      ['read', 0x7fff0000], ['write', 0x7fff0000], ['clone3', 0x00050026], ['personality', 0x7fff0000],
    ]);
    assert.deepEqual(profile.syscalls[3]!.args, [{ index: 0, value: 8n, valueTwo: 0n, op: 4 }]);
    assert.throws(() => seccompProfile({ defaultAction: 'SCMP_ACT_NOTIFY' }), /not supported/);
  });
});

describe('compiled seccomp cache', () => {
  it('keys profiles by content: stable, 128 bits, different for a one-character change', () => {
    const text = JSON.stringify({ defaultAction: 0x00050001, syscalls: [{ name: 'read' }] });
    assert.match(profileKey(text), /^[0-9a-f]{32}$/);
    assert.equal(profileKey(text), profileKey(text));
    const keys = new Set([text, text.replace('read', 'reae'), `${text} `, '', 'a', 'b', 'ab', 'ba'].map(profileKey));
    assert.equal(keys.size, 8);
  });

  it('compiles once per profile and reuses the stored filter', () => {
    using dir = tempDir('berth-seccomp-cache-');
    const spec: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] };
    const first = compileSeccomp(spec, dir.path);
    assert.ok(first.bpf.length > 0 && first.bpf.length % 8 === 0, 'a BPF program of 8-byte instructions');
    const files = readdirSync(dir.path);
    assert.equal(files.length, 1);
    // the second call must come from the cache file, not from libseccomp
    writeFileSync(path.join(dir.path, files[0]!), Buffer.alloc(16, 7));
    assert.deepEqual(compileSeccomp(spec, dir.path).bpf, Buffer.alloc(16, 7));
    compileSeccomp({ ...spec, defaultAction: 'SCMP_ACT_KILL' }, dir.path);
    assert.equal(readdirSync(dir.path).length, 2);
  });
});
