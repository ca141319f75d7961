// Test support (used by *.spec.ts only): runs berth-runtimed from source as a child process on private
// paths, and the real ctr against it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { RuntimedClient } from '@berth/containerd-api';
import { run, stopProcess, waitFor, type RunResult } from '@berth/testing';

export interface TestDaemon {
  dir: string;
  address: string;
  root: string;
  state: string;
  child: ChildProcess;
  client: RuntimedClient;
  log(): string;
  ctr(args: string[], opts?: { namespace?: string; input?: string }): Promise<RunResult>;
  /** SIGKILL (a crash); containers and the private Redis stay. */
  kill9(): Promise<void>;
  /** SIGTERM and wait (graceful). */
  stop(): Promise<void>;
  /** Starts runtimed again on the same paths. */
  restart(): Promise<void>;
}

const MAIN = path.join(import.meta.dirname, 'main.ts');

export async function startTestDaemon(dir: string, extraArgs: string[] = []): Promise<TestDaemon> {
  mkdirSync(dir, { recursive: true });
  const address = path.join(dir, 'runtimed.sock');
  const root = path.join(dir, 'root');
  const state = path.join(dir, 'state');
  let output = '';
  const launch = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, [MAIN, '--address', address, '--root', root, '--state', state, '--log-level', 'debug', ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`berth-runtimed exited with ${child.exitCode}:\n${output}`);
      const r = await run('ctr', ['--address', address, '--timeout', '1s', 'version']);
      return r.code === 0;
    }, 'berth-runtimed to serve', 20_000, 50);
    return child;
  };
  const d: TestDaemon = {
    dir, address, root, state,
    child: await launch(),
    client: new RuntimedClient(address, { namespace: 'default' }),
    log: () => output,
    ctr: (args, opts = {}) => run('ctr', ['--address', address, '--namespace', opts.namespace ?? 'default', ...args],
      opts.input === undefined ? {} : { input: opts.input }),
    async kill9() {
      d.child.kill('SIGKILL');
      if (d.child.exitCode === null && d.child.signalCode === null) await new Promise((r) => d.child.once('exit', r));
    },
    async stop() {
      await stopProcess(d.child, 10_000);
    },
    async restart() {
      d.child = await launch();
    },
  };
  return d;
}

/** Stops the daemon and the private Redis it (or a crashed predecessor) left, by the pid file in its state dir. */
export async function cleanupTestDaemon(d: TestDaemon): Promise<void> {
  d.client.close();
  await d.stop();
  const { readFileSync } = await import('node:fs');
  try {
    const pid = Number(readFileSync(path.join(d.state, 'redis', 'redis.pid'), 'utf8').trim());
    if (pid > 0 && readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis-server')) process.kill(pid, 'SIGTERM');
  } catch { /* not running */ }
}
