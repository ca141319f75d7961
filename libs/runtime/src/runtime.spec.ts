// Integration tests: real containers from a busybox rootfs, checked from inside (what the process sees) and
// outside (cgroups, state, leftovers). Needs root and the kernel; every test uses its own cgroup parent and
// temp root.
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { tempDir, waitFor } from '@berth/testing';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tty from 'node:tty';
import { after, before, describe, it } from 'node:test';
import { waitExit } from './exits.ts';
import { parkHelper, unparkHelper } from './launch.ts';
import { Fixture, childPids, mountsMentioning } from './test-support.ts';

describe('Runtime (real containers)', () => {
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

  it('creates an init that waits in its cgroups, starts it on the given fds, reports its exit, deletes everything', async () => {
    const id = fx.id();
    const bundle = fx.bundle(id, fx.spec(id, ['sh', '-c', 'echo out; echo err >&2; exit 7']));
    const { openSync, closeSync } = await import('node:fs');
    const out = openSync(path.join(bundle, 'out'), 'w');
    const err = openSync(path.join(bundle, 'err'), 'w');
    const { pid } = await fx.rt.create(id, { bundle, stdio: { stdout: out, stderr: err }, pidFile: path.join(bundle, 'pid') });
    closeSync(out);
    closeSync(err);
    assert.equal(readFileSync(path.join(bundle, 'pid'), 'utf8'), String(pid));
    const state = fx.rt.state(id);
    assert.equal(state.status, 'created');
    assert.equal(state.pid, pid);
    assert.equal(state.bundle, bundle);
    for (const dir of fx.cgroupDirs(id)) {
      assert.ok(readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)), `init in ${dir}`);
    }
    const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    assert.equal(ppid, process.pid, 'the init is a direct child of the caller');
    await assert.rejects(fx.rt.create(id, { bundle }), /container with id exists/);

    const exited = waitExit(pid);
    await fx.rt.start(id);
    await assert.rejects(fx.rt.start(id), FailedPreconditionError);
    assert.deepEqual(await exited, { exitCode: 7, signal: null, status: 7 });
    assert.equal(fx.rt.state(id).status, 'stopped');
    assert.equal(readFileSync(path.join(bundle, 'out'), 'utf8'), 'out\n');
    assert.equal(readFileSync(path.join(bundle, 'err'), 'utf8'), 'err\n');
    await fx.rt.delete(id);
    for (const dir of fx.cgroupDirs(id)) assert.equal(existsSync(dir), false, `${dir} removed`);
    assert.equal(existsSync(path.join(fx.rt.root, id)), false);
    assert.throws(() => fx.rt.state(id), NotFoundError);
  });

  it('applies capabilities, hostname, env, cwd, rlimits, masked and read-only paths, /dev, a read-only rootfs', async () => {
    const r = await fx.run(['sh', '-c', [
      'grep -E "^Cap(Eff|Bnd)" /proc/self/status', 'hostname', 'echo "env=$FOO home=$HOME cwd=$(pwd)"', 'ulimit -n',
      'echo "timer_list=$(wc -c < /proc/timer_list)"', 'echo "acpi=$(ls /proc/acpi | wc -l)"',
      'echo 1 > /proc/sys/kernel/domainname || echo ro-sys', 'touch /rootfs-write || echo ro-root', 'touch /tmp/ok && echo tmp-rw',
      'ls /dev | tr "\\n" " "; echo', 'readlink /dev/ptmx', 'readlink /dev/fd', 'id',
    ].join('; ')], (s) => {
      s.process!.env!.push('FOO=bar');
      s.process!.cwd = '/var/work';
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 321 }];
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'CapEff:\t00000000a80425fb');
    assert.equal(lines[1], 'CapBnd:\t00000000a80425fb');
    assert.equal(lines[2], r.id);
    assert.equal(lines[3], 'env=bar home=/root cwd=/var/work');
    assert.equal(lines[4], '321');
    assert.equal(lines[5], 'timer_list=0');
    assert.equal(lines[6], 'acpi=0');
    assert.equal(lines[7], 'ro-sys');
    assert.equal(lines[8], 'ro-root');
    assert.equal(lines[9], 'tmp-rw');
    assert.equal(lines[10], 'fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero ');
    assert.deepEqual(lines.slice(11, 13), ['pts/ptmx', '/proc/self/fd']);
    assert.match(lines[13]!, /^uid=0\(root\) gid=0\(root\)/);
    assert.match(r.stderr, /Read-only file system/);
  });

  it('maps ids in a new user namespace', async () => {
    chmodSync(tmp.path, 0o755); // the mapped root (host uid 100000) must reach the rootfs
    const r = await fx.run(['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u; grep CapEff /proc/self/status'], (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    assert.equal(r.status, 0, r.stderr);
    const [uid, gid, id, capeff] = r.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    assert.equal(uid, '0 100000 65536');
    assert.equal(gid, '0 100000 65536');
    assert.equal(id, '0');
    assert.equal(capeff, 'CapEff: 00000000a80425fb');
  });

  it('roots a new cgroup namespace at the container\'s own cgroups', async () => {
    const r = await fx.run(['sh', '-c', 'grep -E ":(memory|pids):" /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max'], (s) => {
      s.linux!.namespaces!.push({ type: 'cgroup' });
      s.linux!.resources = { ...s.linux!.resources, pids: { limit: 77 } };
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+:pids:\/\n\d+:memory:\/\n77\n$/);
  });

  it('runs a container through a helper parked ahead of time: stdio, plan and cgroups handed over', async () => {
    const helpers = () => childPids().filter((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'berth-nsexec');
    assert.deepEqual(helpers(), []);
    parkHelper();
    const [parked] = helpers();
    assert.ok(parked, 'a parked berth-nsexec waits as a child of this process');
    const r = await fx.run(['sh', '-c', 'grep -E ":pids:" /proc/self/cgroup; echo err >&2; exit 3'], undefined, () => {
      assert.equal(existsSync(`/proc/${parked}`), false, 'the parked helper ran this create (and is gone)');
    });
    assert.equal(r.status, 3);
    assert.match(r.stdout, new RegExp(`^\\d+:pids:/.*/${r.id}\\n$`));
    assert.equal(r.stderr, 'err\n');
    // Unparked at exit: EOF ends a parked helper, and it is reaped.
    parkHelper();
    const [second] = helpers();
    assert.ok(second);
    unparkHelper();
    assert.equal(existsSync(`/proc/${second}`), false);
  });

  it('starts a container whose pids limit is 1 (the helper never counts against it)', async () => {
    const r = await fx.run(['cat', '/sys/fs/cgroup/pids/pids.max'], (s) => {
      s.linux!.resources = { ...s.linux!.resources, pids: { limit: 1 } };
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '1\n');
  });

  it('makes the memory limit visible in the container and enforces it with the OOM killer', async () => {
    let ooms = 0;
    let stop = () => {};
    const r = await fx.run(['sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; exec dd if=/dev/zero of=/dev/null bs=96M count=1'], (s) => {
      s.linux!.resources = { ...s.linux!.resources, memory: { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 } };
    }, (id) => {
      stop = fx.rt.oomEvents(id, () => ooms++);
    });
    stop();
    assert.equal(r.stdout, `${32 * 1024 * 1024}\n`);
    assert.equal(r.signal, 'SIGKILL', `dd should be OOM-killed: ${JSON.stringify(r)}`);
    assert.equal(r.status, 137);
    assert.ok(ooms >= 1, 'an OOM event was reported');
  });

  it('stops a fork bomb at the pids limit', async () => {
    const id = fx.id();
    const bundle = fx.bundle(id, fx.spec(id, ['sh', '-c', 'bomb() { bomb | bomb & }; bomb; sleep 30'], (s) => {
      s.linux!.resources = { ...s.linux!.resources, pids: { limit: 24 } };
    }));
    const { pid } = await fx.rt.create(id, { bundle });
    const exited = waitExit(pid);
    await fx.rt.start(id);
    const pidsDir = path.join('/sys/fs/cgroup/pids', fx.cgroupParent, id);
    await waitFor(() => /max [1-9]/.test(readFileSync(path.join(pidsDir, 'pids.events'), 'utf8')), 'the pids limit to be hit', 10_000);
    for (let i = 0; i < 20; i++) {
      assert.ok(Number(readFileSync(path.join(pidsDir, 'pids.current'), 'utf8')) <= 24);
      assert.ok(fx.rt.ps(id).length <= 24);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(fx.rt.stats(id).pids.limit, 24);
    await fx.rt.kill(id, 'KILL', { all: true });
    assert.equal((await exited).signal, 'SIGKILL');
    await fx.rt.delete(id);
    assert.equal(existsSync(pidsDir), false);
  });

  it('denies a syscall with EPERM through the seccomp profile, before and after dropping privileges', async () => {
    const seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW' as const,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' as const, errnoRet: 1 }],
    };
    for (const nnp of [true, false]) {
      const r = await fx.run(['sh', '-c', 'touch /tmp/file && echo touched; mkdir /tmp/dir'], (s) => {
        s.linux!.seccomp = seccomp;
        s.process!.noNewPrivileges = nnp;
        s.process!.user = { uid: 1000, gid: 1000 };
      });
      assert.equal(r.stdout, 'touched\n');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /mkdir: can't create directory '\/tmp\/dir': Operation not permitted/);
    }
  });

  it('gives the process a terminal and returns the pty master', async () => {
    const id = fx.id();
    const bundle = fx.bundle(id, fx.spec(id, ['sh', '-c', 'tty; stty size; echo done'], (s) => {
      s.process!.terminal = true;
      s.process!.consoleSize = { height: 40, width: 100 };
    }));
    const { pid, ptyMaster } = await fx.rt.create(id, { bundle });
    assert.ok(ptyMaster !== undefined && ptyMaster >= 0);
    const stream = new tty.ReadStream(ptyMaster);
    let out = '';
    stream.on('data', (d: Buffer) => (out += d.toString()));
    stream.on('error', () => {});
    const exited = waitExit(pid);
    await fx.rt.start(id);
    assert.equal((await exited).status, 0);
    await waitFor(() => out.includes('done'), 'pty output');
    stream.destroy();
    assert.equal(out, '/dev/pts/0\r\n40 100\r\ndone\r\n');
    await fx.rt.delete(id);
  });

  it('execs processes into a running container, with and without a terminal', async () => {
    const id = fx.id();
    const bundle = fx.bundle(id, fx.spec(id, ['sleep', '60']));
    const { pid } = await fx.rt.create(id, { bundle });
    const initExit = waitExit(pid);
    await fx.rt.start(id);
    const { openSync, closeSync } = await import('node:fs');
    const outFile = path.join(bundle, 'exec.out');
    const out = openSync(outFile, 'w');
    const proc = {
      ...fx.rt.config(id).process!,
      args: ['sh', '-c', 'echo "pid=$$ host=$(hostname) init=$(cat /proc/1/cmdline | tr "\\0" " ")"; exit 3'],
    };
    const ex = await fx.rt.exec(id, proc, { stdio: { stdout: out }, pidFile: path.join(bundle, 'exec.pid') });
    closeSync(out);
    assert.equal(readFileSync(path.join(bundle, 'exec.pid'), 'utf8'), String(ex.pid));
    assert.equal((await waitExit(ex.pid)).status, 3);
    assert.equal(readFileSync(outFile, 'utf8'), `pid=${'2'} host=${id} init=sleep 60 \n`.replace('pid=2', readFileSync(outFile, 'utf8').match(/pid=\d+/)![0]));
    assert.match(readFileSync(outFile, 'utf8'), /^pid=\d+ /);

    const t = await fx.rt.exec(id, { ...proc, terminal: true, args: ['tty'] });
    assert.ok(t.ptyMaster !== undefined);
    const stream = new tty.ReadStream(t.ptyMaster);
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    stream.on('error', () => {});
    assert.equal((await waitExit(t.pid)).status, 0);
    await waitFor(() => text.includes('\n'), 'exec pty output');
    stream.destroy();
    assert.match(text, /^\/dev\/pts\/\d+\r\n$/);

    await assert.rejects(fx.rt.exec(id, { ...proc, args: ['no-such-binary'] }), (err: Error) => {
      assert.ok(err instanceof NotFoundError);
      assert.match(err.message, /exec: "no-such-binary": executable file not found in \$PATH/);
      return true;
    });
    await fx.rt.delete(id, { force: true });
    assert.equal((await initExit).signal, 'SIGKILL');
  });

  it('pauses, resumes, updates limits, reports stats and processes, kills, refuses to delete while running', async () => {
    const id = fx.id();
    const bundle = fx.bundle(id, fx.spec(id, ['sh', '-c', 'sleep 60 & sleep 60 & wait']));
    const { pid } = await fx.rt.create(id, { bundle });
    const exited = waitExit(pid);
    await fx.rt.start(id);
    await waitFor(() => fx.rt.ps(id).length === 3, 'three processes');
    assert.ok(fx.rt.ps(id).includes(pid));
    await fx.rt.pause(id);
    assert.equal(fx.rt.state(id).status, 'paused');
    assert.equal(readFileSync(path.join('/sys/fs/cgroup/freezer', fx.cgroupParent, id, 'freezer.state'), 'utf8').trim(), 'FROZEN');
    await assert.rejects(fx.rt.exec(id, { ...fx.rt.config(id).process!, args: ['true'] }), /paused/);
    await assert.rejects(fx.rt.pause(id), FailedPreconditionError);
    await fx.rt.resume(id);
    assert.equal(fx.rt.state(id).status, 'running');
    fx.rt.update(id, { memory: { limit: 100 * 1024 * 1024 }, cpu: { shares: 512 }, pids: { limit: 50 } });
    assert.equal(readFileSync(path.join('/sys/fs/cgroup/memory', fx.cgroupParent, id, 'memory.limit_in_bytes'), 'utf8').trim(), String(100 * 1024 * 1024));
    assert.equal(readFileSync(path.join('/sys/fs/cgroup/cpu', fx.cgroupParent, id, 'cpu.shares'), 'utf8').trim(), '512');
    assert.equal(fx.rt.config(id).linux!.resources!.memory!.limit, 100 * 1024 * 1024);
    const stats = fx.rt.stats(id);
    assert.ok(stats.memory.usage.usage! > 0);
    assert.equal(stats.memory.usage.limit, 100 * 1024 * 1024);
    assert.equal(stats.pids.current, 3);
    assert.equal(stats.pids.limit, 50);
    assert.ok(stats.cpu.usage.total > 0);
    await assert.rejects(fx.rt.delete(id), /cannot delete container .* that is not stopped: running/);
    await fx.rt.kill(id, 'SIGKILL');
    assert.equal((await exited).signal, 'SIGKILL');
    await assert.rejects(fx.rt.kill(id, 'TERM'), /not running/);
    await fx.rt.delete(id);
  });

  it('runs prestart/createRuntime hooks while the init waits, poststart after start, poststop on delete', async () => {
    const log = path.join(tmp.path, 'hooks.log');
    const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `printf '${name} ' >> ${log}; cat >> ${log}; echo >> ${log}`] });
    const r = await fx.run(['true'], (s) => {
      s.hooks = { prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
    });
    assert.equal(r.status, 0);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.deepEqual(lines.map((l) => l.split(' ')[0]), ['prestart', 'createRuntime', 'poststart', 'poststop']);
    const prestart = JSON.parse(lines[0]!.slice('prestart '.length)) as { id: string; status: string; pid: number };
    assert.equal(prestart.id, r.id);
    assert.equal(prestart.status, 'creating');
    assert.ok(prestart.pid > 0);
  });

  it('falls back to MS_MOVE + chroot with noPivot', async () => {
    const id = fx.id();
    const bundle = fx.bundle(id, fx.spec(id, ['sh', '-c', 'cat /proc/self/mountinfo | head -1; ls /']));
    const { openSync, closeSync } = await import('node:fs');
    const out = openSync(path.join(bundle, 'out'), 'w');
    const { pid } = await fx.rt.create(id, { bundle, noPivot: true, stdio: { stdout: out } });
    closeSync(out);
    const exited = waitExit(pid);
    await fx.rt.start(id);
    assert.equal((await exited).status, 0);
    assert.match(readFileSync(path.join(bundle, 'out'), 'utf8'), /\bbin\b/);
    await fx.rt.delete(id);
  });

  describe('bad input fails create with a clear error and leaves nothing behind', () => {
    const check = async (name: string, makeBundle: (id: string) => string, expect: RegExp, cls: new (...a: never[]) => Error) => {
      const id = fx.id('bad');
      const bundle = makeBundle(id);
      const before = childPids();
      await assert.rejects(fx.rt.create(id, { bundle }), (err: Error) => {
        assert.ok(err instanceof cls, `${name}: ${err.constructor.name}: ${err.message}`);
        assert.match(err.message, expect);
        return true;
      });
      assert.equal(existsSync(path.join(fx.rt.root, id)), false, `${name}: no state dir`);
      for (const dir of fx.cgroupDirs(id)) assert.equal(existsSync(dir), false, `${name}: ${dir} removed`);
      assert.deepEqual(childPids().filter((p) => !before.includes(p)), [], `${name}: no process left`);
      assert.deepEqual(mountsMentioning(bundle), [], `${name}: no mount left`);
      assert.ok(!fx.rt.list().some((s) => s.id === id), `${name}: not listed`);
    };

    it('invalid JSON', () => check('json', (id) => fx.bundle(id, '{"ociVersion": "1.0.2", "process": '), /create container bad\d+-\d+: load .*config.json: /, InvalidArgumentError));
    it('a config that is not a runtime spec', () => check('shape', (id) => fx.bundle(id, JSON.stringify({ ociVersion: '1.0.2', process: { cwd: '/', user: { uid: 0, gid: 0 } } })), /process.args/, InvalidArgumentError));
    it('a missing rootfs', () => check('rootfs', (id) => fx.bundle(id, fx.spec(id, ['true'], (s) => {
      s.root = { path: 'no-such-rootfs' };
    })), /rootfs .*no-such-rootfs does not exist/, NotFoundError));
    it('an unknown namespace type', () => check('ns', (id) => fx.bundle(id, fx.spec(id, ['true'], (s) => {
      s.linux!.namespaces!.push({ type: 'foo' as 'pid' });
    })), /unknown namespace type "foo"/, InvalidArgumentError));
    it('a missing executable', () => check('exec', (id) => fx.bundle(id, fx.spec(id, ['no-such-binary'])), /exec: "no-such-binary": executable file not found in \$PATH/, NotFoundError));
    it('a filesystem the kernel does not know', () => check('fstype', (id) => fx.bundle(id, fx.spec(id, ['true'], (s) => {
      s.mounts!.push({ destination: '/mnt', type: 'nosuchfs', source: 'none' });
    })), /mount nosuchfs on \/mnt: ENODEV/, Error));

    it('a mount target escaping the rootfs through a symlink', async () => {
      const rootfs = path.join(tmp.path, 'evil-rootfs');
      mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
      const outside = path.join(tmp.path, 'outside');
      mkdirSync(outside);
      // ../ climbs out of the rootfs on the host: must be refused, and nothing may appear in `outside`
      symlinkSync(`../../../../../../../../..${outside}`, path.join(rootfs, 'escape'));
      await check('symlink', (id) => fx.bundle(id, fx.spec(id, ['true'], (s) => {
        s.root = { path: rootfs };
        s.mounts = [{ destination: '/escape/x', type: 'tmpfs', source: 'tmpfs' }];
      })), /mount \/escape\/x: the path escapes the rootfs through a symlink: EXDEV/, Error);
      assert.deepEqual((await import('node:fs')).readdirSync(outside), []);
    });
  });

  it('follows absolute symlinks inside the rootfs, as the container sees them', async () => {
    const rootfs = path.join(tmp.path, 'abs-rootfs');
    const { cpSync } = await import('node:fs');
    cpSync(fx.rootfs, rootfs, { recursive: true, verbatimSymlinks: true });
    const outside = path.join(tmp.path, 'abs-outside');
    mkdirSync(outside);
    symlinkSync(outside, path.join(rootfs, 'abs'));
    writeFileSync(path.join(tmp.path, 'data.txt'), 'bound\n');
    const r = await fx.run(['cat', `${outside}/x/data.txt`], (s) => {
      s.root = { path: rootfs, readonly: true };
      s.mounts = s.mounts!.filter((m) => m.destination !== '/tmp'); // the target path lies under /tmp
      s.mounts.push({ destination: '/abs/x', type: 'bind', source: tmp.path, options: ['rbind', 'ro'] });
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'bound\n');
    assert.equal(existsSync(path.join(outside, 'x')), false, 'the host path the symlink names is untouched');
    assert.equal(existsSync(path.join(rootfs, outside, 'x')), true, 'the target was created inside the rootfs');
  });
});
