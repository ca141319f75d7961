// The real docker CLI through a container's life on berthd: -d, ps (filters, --format), logs (-f, --tail,
// --since, -t), exec (-it, -e, -u, -w), stop, kill, restart, pause/unpause, rm -f, rename, top, stats
// --no-stream, inspect (-f templates), wait, events --since, system df and prune. Needs root and the loopback
// registry (tools/setup/services.sh).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { run, waitFor } from '@berth/testing';
import { startBerthd, type TestDaemon } from './test-support.ts';

describe('a container\'s life through berthd', { concurrency: 4 }, () => {
  let berth: TestDaemon;
  const ok = async (args: string[], input?: string) => {
    const r = await berth.docker(args, input !== undefined ? { input } : {});
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    berth = await startBerthd();
    await ok(['pull', '-q', 'busybox']);
  });

  after(async () => {
    await berth?.stop();
  });

  it('-d, ps with filters and --format, inspect templates', async () => {
    const id = (await ok(['run', '-d', '--name', 'life-ps', '--label', 'team=a', 'busybox', 'sleep', '300'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await ok(['create', '--name', 'life-created', '--label', 'team=b', 'busybox', 'true']);
    const running = await ok(['ps', '--filter', 'name=life-', '--format', '{{.Names}} {{.Image}} {{.Command}} {{.Status}}']);
    assert.match(running, /^life-ps busybox "sleep 300" Up /m);
    assert.doesNotMatch(running, /life-created/);
    const all = await ok(['ps', '-a', '--filter', 'name=life-', '--format', '{{.Names}}|{{.Status}}|{{.Labels}}']);
    assert.match(all, /^life-created\|Created\|team=b$/m);
    assert.equal((await ok(['ps', '-a', '--filter', 'label=team=a', '--format', '{{.Names}}'])).trim(), 'life-ps');
    // (other tests of this suite run at the same time: only this test's containers are looked at)
    const created = (await ok(['ps', '-a', '--filter', 'status=created', '--filter', 'name=life-', '--format', '{{.Names}}'])).trim().split('\n');
    assert.deepEqual(created.filter((n) => n === 'life-ps' || n === 'life-created'), ['life-created']);
    assert.equal((await ok(['ps', '-q', '--no-trunc', '--filter', `id=${id.slice(0, 10)}`])).trim(), id);
    assert.equal((await ok(['ps', '-a', '--filter', 'ancestor=busybox', '--filter', 'name=life-ps', '--format', '{{.Names}}'])).trim(), 'life-ps');
    assert.equal((await ok(['inspect', '-f', '{{.Name}} {{.State.Running}} {{.Config.Labels.team}} {{index .Config.Cmd 0}} {{.HostConfig.NetworkMode}}', 'life-ps'])).trim(),
      '/life-ps true a sleep bridge');
    const json = JSON.parse(await ok(['inspect', 'life-ps'])) as Array<Record<string, unknown>>;
    assert.equal(json.length, 1);
    for (const k of ['Id', 'Created', 'Path', 'Args', 'State', 'Image', 'ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath', 'Name',
      'RestartCount', 'Driver', 'Platform', 'MountLabel', 'ProcessLabel', 'AppArmorProfile', 'ExecIDs', 'HostConfig', 'GraphDriver', 'Mounts',
      'Config', 'NetworkSettings']) assert.ok(k in json[0]!, `inspect has ${k}`);
    const missing = await berth.docker(['inspect', 'no-such-thing']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such object: no-such-thing/);
    await ok(['rm', '-f', 'life-ps', 'life-created']);
  });

  it('logs: -f, --tail, --since, -t, stderr', async () => {
    await ok(['run', '-d', '--name', 'life-logs', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo out $i; echo err $i >&2; done; sleep 1; echo late; sleep 300']);
    await waitFor(async () => (await ok(['logs', 'life-logs'])).includes('late'), 'the late line', 10_000);
    const r = await berth.docker(['logs', 'life-logs']);
    assert.equal(r.stdout, 'out 1\nout 2\nout 3\nlate\n');
    assert.equal(r.stderr, 'err 1\nerr 2\nerr 3\n');
    // The last entry is "late" (written a second after the rest); stdout and stderr lines may interleave.
    assert.equal((await berth.docker(['logs', '--tail', '1', 'life-logs'])).stdout, 'late\n');
    const two = await berth.docker(['logs', '--tail', '2', 'life-logs']);
    assert.equal(two.stdout.split('\n').filter(Boolean).length + two.stderr.split('\n').filter(Boolean).length, 2);
    const ts = await ok(['logs', '-t', '--tail', '1', 'life-logs']);
    assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z late\n$/);
    assert.equal((await berth.docker(['logs', '--since', '1h', 'life-logs'])).stdout, 'out 1\nout 2\nout 3\nlate\n');
    const future = Math.floor(Date.now() / 1000) + 3600;
    assert.equal((await berth.docker(['logs', '--since', String(future), 'life-logs'])).stdout, '');
    // -f follows until the container stops.
    const follower = spawn('docker', ['logs', '-f', '--tail', '0', 'life-logs'], { env: berth.env });
    let followed = '';
    follower.stdout.setEncoding('utf8').on('data', (d: string) => (followed += d));
    const ended = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)));
    await new Promise((res) => setTimeout(res, 500));
    await ok(['exec', 'life-logs', 'sh', '-c', 'echo via-exec-not-logged; echo to-log > /proc/1/fd/1']);
    await waitFor(() => followed.includes('to-log'), 'the followed line', 10_000);
    assert.doesNotMatch(followed, /via-exec/);
    await ok(['stop', '-t', '1', 'life-logs']);
    assert.equal(await ended, 0);
    await ok(['rm', 'life-logs']);
  });

  it('exec: -e, -u, -w, exit codes, stdin, -it', async () => {
    await ok(['run', '-d', '--name', 'life-exec', '-e', 'BASE=1', 'busybox', 'sleep', '300']);
    assert.equal(await ok(['exec', '-e', 'FOO=bar', '-w', '/tmp', '-u', 'nobody', 'life-exec', 'sh', '-c', 'echo $FOO $BASE; pwd; id -u']), 'bar 1\n/tmp\n65534\n');
    const code = await berth.docker(['exec', 'life-exec', 'sh', '-c', 'exit 42']);
    assert.equal(code.code, 42);
    const missing = await berth.docker(['exec', 'life-exec', 'no-such-cmd']);
    assert.equal(missing.code, 127);
    assert.match(missing.stdout + missing.stderr, /executable file not found/);
    assert.equal(await ok(['exec', '-i', 'life-exec', 'wc', '-c'], 'twelve bytes'), '12\n');
    const tty = await run('script', ['-qec', 'docker exec -it life-exec sh -c "tty; echo in-tty"', '/dev/null'], { env: berth.env });
    assert.equal(tty.code, 0, tty.stderr);
    assert.match(tty.stdout, /\/dev\/pts\/\d+\r?\nin-tty/);
    const d = await berth.docker(['exec', '-d', 'life-exec', 'sh', '-c', 'echo detached > /tmp/d']);
    assert.equal(d.code, 0);
    await waitFor(async () => (await ok(['exec', 'life-exec', 'cat', '/tmp/d'])) === 'detached\n', 'the detached exec', 5000);
    const ids = JSON.parse(await ok(['inspect', '-f', '{{json .ExecIDs}}', 'life-exec'])) as string[];
    assert.ok(ids.length >= 5);
    await ok(['rm', '-f', 'life-exec']);
    const gone = await berth.docker(['exec', 'life-exec', 'true']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such container: life-exec/);
  });

  it('stop, kill, restart, pause/unpause, rm -f, rename, wait', async () => {
    await ok(['run', '-d', '--name', 'life-ctl', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
    await ok(['pause', 'life-ctl']);
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'life-ctl'])).trim(), 'paused');
    assert.match(await ok(['ps', '--filter', 'name=life-ctl', '--format', '{{.Status}}']), /\(Paused\)/);
    const again = await berth.docker(['pause', 'life-ctl']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is already paused/);
    await ok(['unpause', 'life-ctl']);
    const t0 = Date.now();
    await ok(['stop', 'life-ctl']);
    assert.ok(Date.now() - t0 < 5000, 'a TERM-handling container stops without the kill timeout');
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'life-ctl'])).trim(), 'exited 0');
    await ok(['start', 'life-ctl']);
    await ok(['restart', '-t', '1', 'life-ctl']);
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'life-ctl'])).trim(), 'running');
    const waiter = berth.docker(['wait', 'life-ctl']);
    await ok(['kill', 'life-ctl']);
    const w = await waiter;
    assert.equal(w.stdout.trim(), '137');
    const killAgain = await berth.docker(['kill', 'life-ctl']);
    assert.equal(killAgain.code, 1);
    assert.match(killAgain.stderr, /is not running/);
    await ok(['rename', 'life-ctl', 'life-renamed']);
    assert.equal((await ok(['inspect', '-f', '{{.Name}}', 'life-renamed'])).trim(), '/life-renamed');
    await ok(['start', 'life-renamed']);
    const rm = await berth.docker(['rm', 'life-renamed']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /container is running: stop the container before removing or force remove/);
    await ok(['kill', '--signal', 'USR1', 'life-renamed']);
    await ok(['rm', '-f', 'life-renamed']);
    assert.equal((await berth.docker(['inspect', 'life-renamed'])).code, 1);
  });

  it('top and stats --no-stream', async () => {
    await ok(['run', '-d', '--name', 'life-top', 'busybox', 'sleep', '300']);
    const top = await ok(['top', 'life-top']);
    assert.match(top, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD/);
    assert.match(top, /sleep 300/);
    assert.match(await ok(['top', 'life-top', '-o', 'pid,comm']), /PID\s+COMMAND[\s\S]*sleep/);
    const stats = await ok(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.MemUsage}}', 'life-top']);
    assert.match(stats, /^life-top 1 [\d.]+[KMG]i?B \/ [\d.]+[KMG]i?B$/m);
    await ok(['rm', '-f', 'life-top']);
  });

  it('events --since and --until replay the lifecycle', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await ok(['run', '--rm', '--name', 'life-events', 'busybox', 'true']);
    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await ok(['events', '--since', String(since), '--until', String(until), '--filter', 'container=life-events', '--format', '{{.Type}} {{.Action}}']);
    assert.deepEqual(ev.trim().split('\n'), ['container create', 'container attach', 'container start', 'container die', 'container destroy']);
  });

  it('system df and prune', async () => {
    await ok(['run', '--name', 'life-prune', 'busybox', 'sh', '-c', 'echo data > /file']);
    const df = await ok(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
    assert.match(df, /^Images [1-9]/m);
    assert.match(df, /^Containers [1-9]/m);
    const pruned = await ok(['container', 'prune', '-f', '--filter', 'label!=keep']);
    assert.match(pruned, /Deleted Containers:/);
    assert.equal((await berth.docker(['inspect', 'life-prune'])).code, 1);
    assert.match(await ok(['system', 'prune', '-f']), /Total reclaimed space/);
  });
});
