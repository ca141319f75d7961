// The real docker CLI (v28) driving `docker run` against berthd (its own daemon, runtimed, cgroup parent and
// bridge) and, for the same commands, against a real dockerd on a private socket: exit codes and outputs must
// match where they are deterministic. Needs root, the loopback registry (tools/setup/services.sh) and dockerd.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { run, startDockerd, tempDir, type PrivateDockerd, type RunResult } from '@berth/testing';
import { startBerthd, type TestDaemon } from './test-support.ts';

describe('docker run through berthd, compared with dockerd', { concurrency: 4 }, () => {
  let berth: TestDaemon;
  let dockerd: PrivateDockerd;
  let dockerdDir: { path: string } & Disposable;

  const real = (args: string[], input?: string): Promise<RunResult> =>
    run('docker', args, { env: dockerd.env, ...(input !== undefined ? { input } : {}) });

  /** The same command through both daemons: same exit code and stdout. */
  async function same(args: string[], opts: { input?: string; stdout?: boolean } = {}): Promise<RunResult> {
    const [b, d] = await Promise.all([berth.docker(args, opts.input !== undefined ? { input: opts.input } : {}), real(args, opts.input)]);
    assert.equal(b.code, d.code, `docker ${args.join(' ')}: exit ${b.code} (berth) vs ${d.code} (dockerd)\nberth stderr: ${b.stderr}\ndockerd stderr: ${d.stderr}`);
    if (opts.stdout !== false) assert.equal(b.stdout, d.stdout, `docker ${args.join(' ')}: stdout differs`);
    return b;
  }

  before(async () => {
    dockerdDir = tempDir('berth-engine-dockerd-');
    [berth, dockerd] = await Promise.all([startBerthd(), startDockerd(dockerdDir.path)]);
    const [b, d] = await Promise.all([berth.docker(['pull', '-q', 'busybox']), real(['pull', '-q', 'busybox'])]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(d.code, 0, d.stderr);
  });

  after(async () => {
    await berth?.stop();
    await dockerd?.stop();
    dockerdDir?.[Symbol.dispose]();
  });

  it('runs hello-world the first time with a pull, as docker does', async () => {
    const r = await berth.docker(['run', '--rm', 'hello-world']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Unable to find image 'hello-world:latest' locally/);
    assert.match(r.stderr, /Pull complete/);
    assert.match(r.stdout, /^Hello from/m);
    const again = await berth.docker(['run', '--rm', 'hello-world']);
    assert.equal(again.code, 0);
    assert.equal(again.stderr, '');
  });

  it('attached runs: output, exit codes, missing and non-executable commands', async () => {
    await same(['run', '--rm', 'busybox', 'echo', 'hi there']);
    await same(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    await same(['run', '--rm', 'busybox', 'nonexistent-command'], { stdout: false });
    await same(['run', '--rm', 'busybox', '/etc/passwd'], { stdout: false });
    const bad = await berth.docker(['run', '--rm', '--name', 'berth-failed-rm', 'busybox', 'nonexistent-command']);
    assert.match(bad.stderr, /executable file not found/);
    assert.equal((await berth.docker(['inspect', 'berth-failed-rm'])).code, 1, 'a failed --rm run leaves no container');
  });

  it('-e, -w, -u, --entrypoint, --name and the default environment', async () => {
    await same(['run', '--rm', '-e', 'A=b', '-e', 'PATH=/bin', '-w', '/tmp', '-u', 'nobody', 'busybox', 'sh', '-c', 'echo $A $PATH; pwd; id']);
    await same(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'from', 'entrypoint']);
    await same(['run', '--rm', 'busybox', 'id']);
    await same(['run', '--rm', '-u', '1000:100', 'busybox', 'id']);
    await same(['run', '--rm', '-w', '/does/not/exist', 'busybox', 'pwd']);
    await same(['run', '--rm', 'busybox', 'sh', '-c', 'env | grep -v HOSTNAME | sort']);
    await same(['run', '--rm', '-u', 'nosuchuser', 'busybox', 'id'], { stdout: false });
    const named = await berth.docker(['run', '--name', 'berth-named', 'busybox', 'true']);
    assert.equal(named.code, 0, named.stderr);
    const dup = await berth.docker(['run', '--name', 'berth-named', 'busybox', 'true']);
    assert.equal(dup.code, 125);
    const id = (await berth.docker(['inspect', '-f', '{{.Id}}', 'berth-named'])).stdout.trim();
    assert.match(dup.stderr, new RegExp(`Conflict\\. The container name "/berth-named" is already in use by container "${id}"\\. You have to remove \\(or rename\\) that container to be able to reuse that name\\.`));
    assert.equal((await berth.docker(['rm', 'berth-named'])).code, 0);
  });

  it('-i with piped stdin reaches the process, then EOF', async () => {
    await same(['run', '--rm', '-i', 'busybox', 'wc', '-l'], { input: 'one\ntwo\nthree\n' });
    await same(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'x'.repeat(200_000) });
    await same(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'read a; echo got $a'], { input: 'hello\n' });
  });

  it('-it runs through a pty', async () => {
    // `script` gives the CLI a terminal, as a user's shell would.
    const r = await run('script', ['-qec', 'docker run --rm -it busybox sh -c "tty; stty size; echo done"', '/dev/null'], {
      env: { ...berth.env, COLUMNS: '100', LINES: '30' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\/dev\/pts\/0/);
    assert.match(r.stdout, /done/);
    // Typed input through the terminal: the same bytes come back as from dockerd (including the pty echo).
    const cmd = ['-qec', 'docker run --rm -it busybox sh -c "read x; echo typed:$x; exit 3"', '/dev/null'];
    const [b, d] = await Promise.all([run('script', cmd, { env: berth.env, input: 'abc\n' }), run('script', cmd, { env: dockerd.env, input: 'abc\n' })]);
    assert.equal(b.stdout, d.stdout);
    assert.equal(b.code, d.code);
  });

  it('resource flags land in the container\'s cgroups', async () => {
    const r = await berth.docker(['run', '-d', '--memory', '64m', '--cpus', '0.5', '--pids-limit', '20', '--cpu-shares', '512', 'busybox', 'sleep', '60']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const cg = (ctl: string, file: string) => readFileSync(`/sys/fs/cgroup/${ctl}${berth.cgroupParent}/${id}/${file}`, 'utf8').trim();
    assert.equal(cg('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
    assert.equal(cg('cpu', 'cpu.cfs_quota_us'), '50000');
    assert.equal(cg('cpu', 'cpu.cfs_period_us'), '100000');
    assert.equal(cg('cpu', 'cpu.shares'), '512');
    assert.equal(cg('pids', 'pids.max'), '20');
    const inspect = await berth.docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}', id]);
    assert.equal(inspect.stdout.trim(), `${64 * 1024 * 1024} 500000000 20`);
    assert.equal((await berth.docker(['rm', '-f', id])).code, 0);
    await same(['run', '--rm', '--memory', '1m', 'busybox', 'true'], { stdout: false });
    await same(['run', '--rm', '--cpus', '99', 'busybox', 'true'], { stdout: false });
  });

  it('a container over its memory limit is OOM-killed and says so', async () => {
    const r = await berth.docker(['run', '--name', 'berth-oom', '--memory', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c',
      'x=a; while true; do x=$x$x; done']);
    assert.equal(r.code, 137, r.stderr);
    assert.equal((await berth.docker(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'berth-oom'])).stdout.trim(), 'true 137');
    assert.equal((await berth.docker(['rm', 'berth-oom'])).code, 0);
  });

  it('--read-only, --cap-drop, --cap-add, --privileged and the default seccomp profile', async () => {
    await same(['run', '--rm', '--read-only', 'busybox', 'touch', '/x'], { stdout: false });
    await same(['run', '--rm', '--read-only', '--tmpfs', '/run', 'busybox', 'touch', '/run/x']);
    await same(['run', '--rm', 'busybox', 'grep', '-E', '^(CapPrm|CapEff|CapBnd|NoNewPrivs|Seccomp):', '/proc/self/status']);
    await same(['run', '--rm', '--cap-drop', 'NET_RAW', '--cap-drop', 'chown', 'busybox', 'grep', '^CapEff', '/proc/self/status']);
    await same(['run', '--rm', '--cap-drop', 'ALL', '--cap-add', 'NET_BIND_SERVICE', 'busybox', 'grep', '^CapEff', '/proc/self/status']);
    await same(['run', '--rm', '--cap-drop', 'CHOWN', 'busybox', 'chown', 'nobody', '/tmp'], { stdout: false });
    await same(['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'grep', '^NoNewPrivs', '/proc/self/status']);
    await same(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'grep', '^Seccomp:', '/proc/self/status']);
    await same(['run', '--rm', '--privileged', 'busybox', 'grep', '^CapEff', '/proc/self/status'], { stdout: false });
    // Masked and read-only paths.
    await same(['run', '--rm', 'busybox', 'sh', '-c', 'cat /proc/kcore | wc -c; echo 1 > /proc/sys/kernel/domainname; echo $?']);
    // Syscalls outside the allowlist fail with EPERM (unshare needs CAP_SYS_ADMIN).
    await same(['run', '--rm', 'busybox', 'unshare', '-n', 'true'], { stdout: false });
    await same(['run', '--rm', '--cap-add', 'bogus', 'busybox', 'true'], { stdout: false });
  });

  it('--init runs tini as pid 1; --restart is recorded and applied', async () => {
    const b = await berth.docker(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; echo $$']);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^\/sbin\/docker-init -- sh -c/);
    assert.notEqual(b.stdout.trim().split('\n')[1], '1');
    const r = await berth.docker(['run', '-d', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const deadline = Date.now() + 20_000;
    let state = '';
    while (Date.now() < deadline) {
      state = (await berth.docker(['inspect', '-f', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}', id])).stdout.trim();
      if (state === 'exited 2 3') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(state, 'exited 2 3');
    await same(['run', '--rm', '--restart', 'always', 'busybox', 'true'], { stdout: false });
    await same(['run', '--rm', '--restart', 'sometimes', 'busybox', 'true'], { stdout: false });
    assert.equal((await berth.docker(['rm', id])).code, 0);
  });
});
