import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runCaptured } from './spawn.ts';

describe('runCaptured (posix_spawn)', () => {
  it('feeds stdin and captures stdout, stderr and the exit code', async () => {
    const r = await runCaptured('sh', ['-c', 'read x; echo "out:$x"; echo err >&2; exit 3'], { input: 'hi\n' });
    assert.equal(r.exitCode, 3);
    assert.equal(r.status, 3);
    assert.equal(r.stdout, 'out:hi\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('searches PATH, passes the environment, and gives /dev/null as stdin without input', async () => {
    const r = await runCaptured('sh', ['-c', 'echo "$BERTH_T"; cat; echo end'], { env: { PATH: process.env.PATH, BERTH_T: 'v1' } });
    assert.equal(r.stdout, 'v1\nend\n');
    assert.equal(r.exitCode, 0);
  });

  it('reports a signal and resets dispositions Node changed (SIGPIPE)', async () => {
    const killed = await runCaptured('sh', ['-c', 'kill -TERM $$']);
    assert.equal(killed.signal, 'SIGTERM');
    assert.equal(killed.status, 143);
    // with SIGPIPE ignored (Node's own setting), `yes` would complain about a broken pipe on stderr
    const piped = await runCaptured('sh', ['-c', 'yes | head -n 1']);
    assert.equal(piped.stdout, 'y\n');
    assert.equal(piped.stderr, '');
  });

  it('fails with ENOENT for a missing program and leaks no descriptor', async () => {
    const before = readdirSync('/proc/self/fd').length;
    await assert.rejects(runCaptured('berth-no-such-tool', []), (err: { code?: string }) => err.code === 'ENOENT');
    await runCaptured('true', [], { input: 'x' });
    assert.equal(readdirSync('/proc/self/fd').length, before);
  });

  it('captures output larger than a pipe buffer', async () => {
    const r = await runCaptured('sh', ['-c', 'head -c 300000 /dev/zero | tr "\\0" a']);
    assert.equal(r.stdout.length, 300000);
  });
});
