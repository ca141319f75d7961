// Interactive use through a real pseudo-terminal (node-pty): `run -it` with raw mode, typed commands,
// terminal resizes, Ctrl-C reaching the container's shell, detach with Ctrl-P Ctrl-Q and re-attach;
// `exec -it`; and signal proxying without a TTY. The same script runs against docker's CLI, so the
// expectations are docker's behaviour (against dockerd; berth alone against berthd).
import { startDockerd, tempDir, type PrivateDockerd } from '@berth/testing';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, DOCKER, buildBerth, runDocker } from './test-support/berth.ts';
import { startBerthd } from './test-support/berthd.ts';
import { spawnPty } from './test-support/pty.ts';

let tmp: { path: string } & Disposable;

before(() => {
  buildBerth();
  tmp = tempDir('berth-cli-pty-');
});

after(() => {
  tmp?.[Symbol.dispose]();
});

const CLIS = [
  { who: 'berth', file: process.execPath, pre: [BERTH] },
  { who: 'docker', file: DOCKER, pre: [] as string[] },
];

for (const daemon of ['dockerd', 'berthd'] as const) {
  describe(`interactive terminal (${daemon})`, () => {
    let env: NodeJS.ProcessEnv;
    let stop: () => Promise<void>;
    before(async () => {
      const dir = path.join(tmp.path, daemon);
      let host: string;
      if (daemon === 'dockerd') {
        const d: PrivateDockerd = await startDockerd(path.join(dir, 'daemon'));
        host = d.host;
        stop = () => d.stop();
      } else {
        const b = await startBerthd(path.join(dir, 'daemon'));
        host = b.host;
        stop = () => b.stop();
      }
      env = { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: host, DOCKER_CONFIG: path.join(dir, '.docker'), BERTH_CONFIG: path.join(dir, '.berth'), TERM: 'xterm' };
      const r = await runDocker(['pull', '-q', 'busybox'], env);
      assert.equal(r.code, 0, r.stderr);
    });
    after(async () => {
      if (!stop) return;
      const ids = (await runDocker(['ps', '-aq'], env)).stdout.split('\n').filter(Boolean);
      if (ids.length) await runDocker(['rm', '-f', ...ids], env);
      await stop();
    });

    // docker's CLI is the reference for the expectations; it runs against the real dockerd
    for (const cli of CLIS.filter((c) => daemon === 'dockerd' || c.who === 'berth')) {
      describe(`${cli.who}: interactive terminal`, () => {
        const name = `it-${cli.who}`;
        test('run -it: commands, resize, Ctrl-C, detach, re-attach, exit', async () => {
          const s = spawnPty(cli.file, [...cli.pre, 'run', '-it', '--name', name, 'busybox', 'sh'], env, 80, 24);
          try {
            await s.expect(/# /);
            s.write('echo hello-$((6*7))\r');
            await s.expect(/hello-42/);
            await s.expect(/# /);
            s.write('stty size\r');
            await s.expect(/24 80/);
            s.resize(100, 30);
            await new Promise((r) => setTimeout(r, 300));
            s.write('stty size\r');
            await s.expect(/30 100/);
            // Ctrl-C goes to the container's foreground process, not to the CLI
            s.write('sleep 100\r');
            await new Promise((r) => setTimeout(r, 300));
            s.write('\x03');
            await s.expect(/# /);
            s.write('echo still-here\r');
            await s.expect(/still-here/);
            // detach: Ctrl-P Ctrl-Q leaves the container running
            s.write('\x10\x11');
            const { exitCode } = await s.exited;
            assert.equal(exitCode, 0);
          } finally {
            s.kill();
          }
          const state = await runDocker(['inspect', '-f', '{{.State.Running}}', name], env);
          assert.equal(state.stdout.trim(), 'true');

          const a = spawnPty(cli.file, [...cli.pre, 'attach', name], env, 90, 20);
          try {
            await new Promise((r) => setTimeout(r, 500));
            a.write('echo back-$((2+3))\r');
            await a.expect(/back-5/);
            a.write('stty size\r');
            await a.expect(/20 90/);
            a.write('exit 4\r');
            const { exitCode } = await a.exited;
            assert.equal(exitCode, 4);
          } finally {
            a.kill();
          }
          const after = await runDocker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name], env);
          assert.equal(after.stdout.trim(), 'exited 4');
          await runDocker(['rm', '-f', name], env);
        });

        test('exec -it into a running container', async () => {
          const c = `ex-${cli.who}`;
          const r = await runDocker(['run', '-d', '--name', c, 'busybox', 'sleep', '300'], env);
          assert.equal(r.code, 0, r.stderr);
          const s = spawnPty(cli.file, [...cli.pre, 'exec', '-it', c, 'sh'], env, 70, 15);
          try {
            await s.expect(/# /);
            s.write('stty size; echo x$((1+1))\r');
            await s.expect(/15 70/);
            await s.expect(/x2/);
            s.write('exit 3\r');
            const { exitCode } = await s.exited;
            assert.equal(exitCode, 3);
          } finally {
            s.kill();
            await runDocker(['rm', '-f', c], env);
          }
        });

        test('without a TTY, signals to the CLI reach the container (--sig-proxy)', async () => {
          const file = cli.file;
          const child = spawn(file, [...cli.pre, 'run', '--rm', 'busybox', 'sh', '-c', 'trap "echo got-term; exit 9" TERM; echo ready; while true; do sleep 0.1; done'],
            { env, stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
          const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
          const deadline = Date.now() + 20_000;
          while (!out.includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
          assert.ok(out.includes('ready'), `container did not start: ${out}`);
          child.kill('SIGTERM');
          const [code] = await exited;
          assert.equal(code, 9);
          assert.match(out, /got-term/);
        });
      });
    }
  });
}
