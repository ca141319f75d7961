// The OCI runtime spec berthd generates from Docker's Config/HostConfig: defaults, capabilities, seccomp,
// mounts, resources, users, and Docker's refusals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostConfig } from '@berth/docker-api';
import type { NetworkAttachment } from '../extensions.ts';
import { DEFAULT_CAPABILITIES } from './defaults.ts';
import { buildSpec, effectiveCapabilities, parseSecurityOpts, resources, type SpecInput } from './generate.ts';
import { containerMounts, parseApiMount, parseBind, tmpfsOptions } from './mounts.ts';
import { defaultSeccompProfile } from './seccomp.ts';
import { resolveUser } from './user.ts';

const network: NetworkAttachment = {
  netns: 'new', hostname: 'abc', domainname: '', hostsPath: '/h/hosts', resolvConfPath: '/h/resolv.conf', hostnamePath: '/h/hostname',
};

function input(hc: HostConfig, extra: Partial<SpecInput> = {}): SpecInput {
  return {
    id: 'c1', config: { Tty: false, WorkingDir: '' }, hostConfig: hc, args: ['sh'], env: ['PATH=/bin'],
    user: { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' }, network, mounts: [], cgroupsPath: '/berth/c1',
    daemon: { noNewPrivileges: false, defaultUlimits: {}, cgroupV2: false }, ...extra,
  };
}

describe('runtime spec generation', () => {
  it('gives Docker\'s defaults', () => {
    const s = buildSpec(input({}));
    assert.deepEqual(s.process!.capabilities!.bounding, [...DEFAULT_CAPABILITIES]);
    assert.equal(s.process!.capabilities!.bounding!.length, 14);
    assert.equal(s.process!.cwd, '/');
    assert.equal(s.hostname, 'abc');
    assert.equal(s.linux!.cgroupsPath, '/berth/c1');
    assert.deepEqual(s.linux!.namespaces!.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
    assert.ok(s.linux!.maskedPaths!.includes('/proc/kcore'));
    assert.ok(s.linux!.readonlyPaths!.includes('/proc/sys'));
    assert.equal(s.linux!.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
    const dests = s.mounts!.map((m) => m.destination);
    for (const d of ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts']) {
      assert.ok(dests.includes(d), d);
    }
    assert.ok(s.mounts!.find((m) => m.destination === '/dev/shm')!.options!.includes('size=67108864'));
    assert.deepEqual(s.linux!.resources!.devices![0], { allow: false, access: 'rwm' });
  });

  it('applies capabilities with Docker\'s rules', () => {
    assert.deepEqual(effectiveCapabilities({ CapDrop: ['ALL'], CapAdd: ['net_bind_service'] }), ['CAP_NET_BIND_SERVICE']);
    assert.ok(!effectiveCapabilities({ CapDrop: ['chown'] }).includes('CAP_CHOWN'));
    assert.ok(effectiveCapabilities({ CapAdd: ['SYS_ADMIN'] }).includes('CAP_SYS_ADMIN'));
    assert.equal(effectiveCapabilities({ CapAdd: ['ALL'], CapDrop: ['MKNOD'] }).length, 40);
    assert.equal(effectiveCapabilities({ Privileged: true }).length, 41);
    assert.throws(() => effectiveCapabilities({ CapAdd: ['CAP_FLY'] }), /unknown capability: "CAP_FLY"/);
  });

  it('seccomp: an allowlist; namespace syscalls only with CAP_SYS_ADMIN', () => {
    const plain = defaultSeccompProfile(DEFAULT_CAPABILITIES);
    const names = new Set(plain.syscalls!.flatMap((s) => (s.action === 'SCMP_ACT_ALLOW' && !s.args ? s.names : [])));
    for (const n of ['read', 'write', 'execve', 'clone3']) assert.equal(names.has(n), n !== 'clone3', n);
    for (const n of ['mount', 'unshare', 'setns', 'reboot', 'init_module', 'kexec_load', 'bpf']) assert.equal(names.has(n), false, n);
    const admin = defaultSeccompProfile([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
    const adminNames = new Set(admin.syscalls!.flatMap((s) => (s.action === 'SCMP_ACT_ALLOW' && !s.args ? s.names : [])));
    for (const n of ['mount', 'unshare', 'setns', 'clone']) assert.ok(adminNames.has(n), n);
    assert.equal(buildSpec(input({ Privileged: true })).linux!.seccomp, undefined);
    assert.equal(buildSpec(input({ SecurityOpt: ['seccomp=unconfined'] })).linux!.seccomp, undefined);
    assert.equal(buildSpec(input({ SecurityOpt: ['no-new-privileges'] })).process!.noNewPrivileges, true);
    assert.throws(() => parseSecurityOpts(['bogus=1']), /invalid --security-opt/);
  });

  it('maps resources and refuses what dockerd refuses', () => {
    const r = resources({ Memory: 64 << 20, NanoCpus: 1.5e9, PidsLimit: 10, CpuShares: 512, CpusetCpus: '0' }, [], false);
    assert.equal(r.memory!.limit, 64 << 20);
    assert.equal(r.memory!.swap, 128 << 20);
    assert.equal(r.cpu!.quota, 150_000);
    assert.equal(r.cpu!.period, 100_000);
    assert.equal(r.cpu!.shares, 512);
    assert.equal(r.pids!.limit, 10);
    const s = buildSpec(input({ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }], Sysctls: { 'net.ipv4.ip_forward': '1' }, ReadonlyRootfs: true }));
    assert.deepEqual(s.process!.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }]);
    assert.equal(s.root!.readonly, true);
    assert.ok(s.mounts!.find((m) => m.destination === '/etc/hosts')!.options!.includes('ro'));
    assert.throws(() => buildSpec(input({ Sysctls: { 'vm.swappiness': '1' } })), /sysctl "vm.swappiness" is not allowed/);
    assert.throws(() => buildSpec(input({ NetworkMode: 'host', Sysctls: { 'net.ipv4.ip_forward': '1' } })), /not allowed in host network namespace/);
  });

  it('--init runs the init as pid 1 with the command after --', () => {
    const s = buildSpec(input({}, { initBinary: '/usr/bin/tini-static' }));
    assert.deepEqual(s.process!.args, ['/sbin/docker-init', '--', 'sh']);
    assert.deepEqual(s.mounts!.find((m) => m.destination === '/sbin/docker-init'), {
      destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'],
    });
  });

  it('parses -v, --mount and --tmpfs as Docker does', () => {
    assert.deepEqual(parseBind('/host:/ctr:ro'), { Type: 'bind', Source: '/host', Destination: '/ctr', Mode: 'ro', RW: false, Propagation: 'rprivate' });
    assert.equal(parseBind('data:/d').Name, 'data');
    assert.equal(parseBind('/anon').Anonymous, true);
    assert.throws(() => parseBind('a:b:c:d'), /invalid volume specification/);
    assert.throws(() => parseBind('/x:/y:bogus'), /invalid mode: bogus/);
    assert.throws(() => parseBind('bad name!:/x'), /includes invalid characters/);
    assert.equal(parseApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o700 } }).TmpfsOptions, 'size=1024,mode=700');
    assert.throws(() => parseApiMount({ Type: 'bind', Target: '/x' }), /field Source must not be empty/);
    assert.throws(() => containerMounts({ Binds: ['/a:/x', '/b:/x'] }, []), /Duplicate mount point: \/x/);
    assert.deepEqual(containerMounts({}, ['/data']).map((m) => [m.Type, m.Destination, m.Anonymous]), [['volume', '/data', true]]);
    assert.deepEqual(tmpfsOptions('exec,size=1m'), ['nosuid', 'nodev', 'rprivate', 'exec', 'size=1m']);
  });

  it('resolves users against the container\'s passwd and group files', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n';
    const group = 'root:x:0:\nwheel:x:10:root\nusers:x:100:\nnogroup:x:65534:\n';
    assert.deepEqual(resolveUser('', [], { passwd, group }), { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' });
    assert.deepEqual(resolveUser('nobody', [], { passwd, group }), { uid: 65534, gid: 65534, additionalGids: [65534], home: '/home' });
    assert.deepEqual(resolveUser('1000:users', ['wheel'], { passwd, group }), { uid: 1000, gid: 100, additionalGids: [100, 10], home: '/' });
    assert.throws(() => resolveUser('ghost', [], { passwd, group }), /unable to find user ghost: no matching entries in passwd file/);
    assert.throws(() => resolveUser('root:ghosts', [], { passwd, group }), /unable to find group ghosts: no matching entries in group file/);
    assert.deepEqual(resolveUser('5', [], {}), { uid: 5, gid: 0, additionalGids: [0], home: '/' });
  });
});
