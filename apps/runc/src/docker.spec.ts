// A real dockerd (Debian's docker.io, private socket and data root) with berth-runc added as a runtime: the
// same docker commands run with --runtime berth and with runc, and must give the same results.
import { run, startDockerd, tempDir, type PrivateDockerd } from '@berth/testing';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

const BIN = path.resolve(import.meta.dirname, '../dist/main.js');

describe('dockerd with --add-runtime berth=berth-runc', () => {
  const tmp = tempDir();
  let d: PrivateDockerd;
  const docker = (args: string[], input?: string) => run('docker', args, { env: d.env, ...(input === undefined ? {} : { input }) });
  /** docker under a pseudo-terminal (script(1)), for -it */
  const dockerTty = (args: string, input = '') => run('script', ['-qec', `docker ${args}`, '/dev/null'], { env: d.env, input });

  before(async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build -w @berth/runc`);
    d = await startDockerd(path.join(tmp.path, 'docker'), { runtimes: { berth: BIN } });
    const pull = await docker(['pull', '-q', 'busybox']);
    assert.equal(pull.code, 0, pull.stderr);
  });
  after(async () => {
    try {
      await d?.stop();
    } finally {
      tmp[Symbol.dispose]();
    }
  });

  /** Everything observable about one runtime, normalised so that berth and runc can be compared. */
  async function scenario(runtime: string): Promise<Record<string, unknown>> {
    const r: Record<string, unknown> = {};
    const base = ['--runtime', runtime, '--network', 'none'];
    const echo = await docker(['run', '--rm', ...base, 'busybox', 'echo', 'hi']);
    r.echo = [echo.code, echo.stdout];
    const exit = await docker(['run', '--rm', ...base, 'busybox', 'sh', '-c', 'exit 3']);
    r.exit = exit.code;
    const missing = await docker(['run', '--rm', ...base, 'busybox', 'no-such-binary']);
    r.missing = [missing.code, /executable file not found in \$PATH/.test(missing.stderr)];
    const inside = await docker(['run', '--rm', ...base, 'busybox', 'sh', '-c',
      'grep -E "^Cap(Eff|Bnd)" /proc/self/status; ls /dev; cat /proc/1/cmdline; echo; id; cat /proc/self/uid_map']);
    r.inside = [inside.code, inside.stdout];
    const it = await dockerTty(`run -it --rm ${base.join(' ')} busybox sh -c "tty; read x; echo got-\\$x"`, 'hello\n');
    r.tty = [it.code, /\/dev\/pts\/0/.test(it.stdout), /got-hello/.test(it.stdout)];

    const name = `berth-test-${runtime}-${process.pid}`;
    const started = await docker(['run', '-d', ...base, '--name', name, 'busybox', 'sleep', '300']);
    assert.equal(started.code, 0, started.stderr);
    const ex = await docker(['exec', name, 'sh', '-c', 'echo in-exec; cat /proc/1/cmdline']);
    r.exec = [ex.code, ex.stdout];
    const exTty = await dockerTty(`exec -it ${name} tty`);
    r.execTty = [exTty.code, /\/dev\/pts\/\d+/.test(exTty.stdout)];
    const exFail = await docker(['exec', name, 'no-such-binary']);
    r.execMissing = exFail.code;
    const top = await docker(['top', name]);
    r.top = [top.code, top.stdout.split('\n').filter((l) => l.includes('sleep 300')).length];
    const pause = await docker(['pause', name]);
    const paused = await docker(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', name]);
    const unpause = await docker(['unpause', name]);
    const resumed = await docker(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', name]);
    r.pause = [pause.code, paused.stdout.trim(), unpause.code, resumed.stdout.trim()];
    const upd = await docker(['update', '--memory', '64m', '--memory-swap', '128m', name]);
    const limit = await docker(['exec', name, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes']);
    r.update = [upd.code, limit.stdout];
    const stats = await docker(['stats', '--no-stream', '--format', '{{.MemUsage}}', name]);
    r.stats = [stats.code, /\/ 64MiB/.test(stats.stdout)];
    const stop = await docker(['stop', '-t', '1', name]);
    const stopped = await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]);
    r.stop = [stop.code, stopped.stdout.trim()];
    const rm = await docker(['rm', name]);
    r.rm = rm.code;
    return r;
  }

  it('docker run/exec/top/pause/unpause/update/stop give the same results with berth-runc as with runc', async () => {
    const berth = await scenario('berth');
    const runc = await scenario('runc');
    assert.deepEqual(berth, runc);
    // and the results are the expected ones, not two identical failures
    assert.deepEqual(berth.echo, [0, 'hi\n']);
    assert.equal(berth.exit, 3);
    assert.deepEqual(berth.missing, [127, true]);
    assert.deepEqual(berth.tty, [0, true, true]);
    assert.deepEqual(berth.exec, [0, 'in-exec\nsleep\u0000300\u0000']);
    assert.deepEqual(berth.execTty, [0, true]);
    assert.deepEqual(berth.top, [0, 1]);
    assert.deepEqual(berth.pause, [0, 'paused true', 0, 'running false']);
    assert.deepEqual(berth.update, [0, `${64 * 1024 * 1024}\n${128 * 1024 * 1024}\n`]);
    assert.deepEqual(berth.stop, [0, 'exited 137']);
  });
});
