// Interactive use of berthd through a real pseudo-terminal (node-pty), with the real docker CLI and with berth
// (apps/cli, run from its sources): `run -it` with typed commands, a resize and Ctrl-C, detach with Ctrl-P
// Ctrl-Q, then `attach` again — typed input must reach the shell and its output come back — and the exit
// status. Needs root and the loopback registry (tools/setup/services.sh).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as pty from 'node-pty';
import { startBerthd, type TestDaemon } from './test-support.ts';

const BERTH_CLI = path.resolve(import.meta.dirname, '../../cli/src/main.ts');

interface PtySession {
  write(data: string): void;
  resize(cols: number, rows: number): void;
  /** Waits until the output after the last match matches `re`. */
  expect(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number>;
  kill(): void;
}

function spawnPty(file: string, args: string[], env: NodeJS.ProcessEnv, cols: number, rows: number): PtySession {
  const p = pty.spawn(file, args, { name: 'xterm', cols, rows, env: env as Record<string, string> });
  let out = '';
  let from = 0;
  const waiters = new Set<() => void>();
  p.onData((d) => {
    out += d;
    for (const w of waiters) w();
  });
  const exited = new Promise<number>((resolve) => p.onExit((e) => resolve(e.exitCode)));
  return {
    write: (d) => p.write(d),
    resize: (c, r) => p.resize(c, r),
    exited,
    kill: () => {
      try {
        p.kill();
      } catch {
        // already gone
      }
    },
    expect(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.slice(from).match(re);
          if (!m) return;
          from += (m.index ?? 0) + m[0].length;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${re} in terminal output:\n${JSON.stringify(out.slice(from))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

const CLIS = [
  { who: 'docker', file: 'docker', pre: [] as string[] },
  { who: 'berth', file: process.execPath, pre: [BERTH_CLI] },
];

describe('interactive terminal through berthd', { concurrency: 2 }, () => {
  let berth: TestDaemon;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    berth = await startBerthd();
    env = { PATH: process.env.PATH, HOME: berth.dataRoot, DOCKER_HOST: berth.host, DOCKER_CONFIG: berth.env.DOCKER_CONFIG,
      BERTH_CONFIG: path.join(berth.dataRoot, 'berth-config'), TERM: 'xterm' };
    const r = await berth.docker(['pull', '-q', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await berth?.stop();
  });

  for (const cli of CLIS) {
    it(`${cli.who}: run -it, resize, Ctrl-C, detach, attach again (twice), exit status`, async () => {
      const name = `it-${cli.who}`;
      const s = spawnPty(cli.file, [...cli.pre, 'run', '-it', '--name', name, 'busybox', 'sh'], env, 80, 24);
      try {
        await s.expect(/# /);
        s.write('echo hello-$((6*7))\r');
        await s.expect(/hello-42/);
        s.write('stty size\r');
        await s.expect(/24 80/);
        s.resize(100, 30);
        await new Promise((r) => setTimeout(r, 300));
        s.write('stty size\r');
        await s.expect(/30 100/);
        s.write('sleep 100\r');
        await new Promise((r) => setTimeout(r, 300));
        s.write('\x03');
        await s.expect(/# /);
        s.write('echo still-here\r');
        await s.expect(/still-here/);
        s.write('\x10\x11');
        assert.equal(await s.exited, 0);
      } finally {
        s.kill();
      }
      assert.equal((await berth.docker(['inspect', '-f', '{{.State.Running}}', name])).stdout.trim(), 'true');

      // Attach, type right away (nothing echoes a prompt on attach), detach, attach again.
      for (const round of [1, 2]) {
        const a = spawnPty(cli.file, [...cli.pre, 'attach', name], env, 90, 20);
        try {
          await new Promise((r) => setTimeout(r, 500));
          a.write(`echo back-$((${round}+3))\r`);
          await a.expect(new RegExp(`back-${round + 3}`));
          a.write('stty size\r');
          await a.expect(/20 90/);
          if (round === 1) {
            // docker attach reports a detach as an error, as it does against dockerd
            a.write('\x10\x11');
            await a.expect(/read escape sequence/);
            assert.equal(await a.exited, 1);
          } else {
            a.write('exit 4\r');
            assert.equal(await a.exited, 4);
          }
        } finally {
          a.kill();
        }
      }
      assert.equal((await berth.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).stdout.trim(), 'exited 4');
      await berth.docker(['rm', '-f', name]);
    });
  }
});
