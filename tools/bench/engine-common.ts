// Shared by the engine benchmarks (engine-*.bench.ts): a private berthd of this checkout and a private real
// dockerd, side by side, both with the loopback registry as docker.io mirror and busybox pulled.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  SHARED_REGISTRY, removeCgroupTree, run, startDockerd, stopProcess, tempDir, testCgroupParent, testSubnet, uniqueSuffix, waitFor,
} from '@berth/testing';

const root = path.resolve(import.meta.dirname, '../..');

// berthd as users run it: this checkout's bundle (built now, so it is current), with its node flags.
const engineDir = path.join(root, 'apps/engine');
const built = spawnSync(process.execPath, [path.join(root, 'tools/build/bundle.ts')], { cwd: engineDir, stdio: 'inherit' });
if (built.status !== 0) throw new Error('building apps/engine failed');
const BERTHD = path.join(engineDir, 'dist/main.js');

export interface Daemon {
  name: string;
  socket: string;
  env: NodeJS.ProcessEnv;
  /** Pids whose memory counts as this engine's (daemon, runtime daemon, their helpers). */
  pids(): number[];
  stop(): Promise<void>;
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
      out.push(Number(t), ...children(Number(t)));
    }
  } catch {
    // gone
  }
  return out;
}

export async function startBerth(opts: { bridge?: boolean } = {}): Promise<Daemon> {
  const id = uniqueSuffix(3);
  const dir = tempDir('berth-bench-engine-');
  const execRoot = `/run/bbe-${id}`;
  const socket = `${execRoot}/berthd.sock`;
  const cgroupParent = testCgroupParent();
  const sub = testSubnet();
  const bridge = `bbe${id}`;
  writeFileSync(path.join(dir.path, 'daemon.json'), '{}');
  const log = openSync(path.join(dir.path, 'berthd.log'), 'a');
  const child: ChildProcess = spawn(BERTHD, [
    '--config-file', path.join(dir.path, 'daemon.json'), '-H', `unix://${socket}`,
    '--data-root', path.join(dir.path, 'data'), '--exec-root', execRoot, '--cgroup-parent', cgroupParent,
    '--bridge', bridge, '--bip', `${sub.gateway}/24`, '--iptables=false', '--log-level', 'warn',
    '--registry-mirror', `http://${SHARED_REGISTRY}`, '--insecure-registry', SHARED_REGISTRY,
  ], { stdio: ['ignore', log, log] });
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`berthd exited; see ${dir.path}/berthd.log`);
    return existsSync(socket) && ping(socket);
  }, 'berthd', 60_000);
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir.path, 'cli') };
  void opts;
  return {
    name: 'berth',
    socket,
    env,
    pids: () => {
      const rt = Number(readFileSync(path.join(execRoot, 'runtimed.pid'), 'utf8'));
      return [child.pid!, rt, ...children(rt)];
    },
    stop: async () => {
      const ids = (await run('docker', ['ps', '-aq'], { env })).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await run('docker', ['rm', '-f', ...ids], { env });
      await stopProcess(child, 20_000);
      await run('ip', ['link', 'del', bridge]);
      rmSync(execRoot, { recursive: true, force: true });
      try {
        removeCgroupTree(cgroupParent);
      } catch {
        // reported by the next run's leftovers check
      }
      dir[Symbol.dispose]();
    },
  };
}

export async function startDocker(): Promise<Daemon> {
  const dir = tempDir('berth-bench-dockerd-');
  mkdirSync(dir.path, { recursive: true });
  const d = await startDockerd(dir.path);
  return {
    name: 'docker',
    socket: d.socket,
    env: d.env,
    pids: () => [d.process.pid!, ...children(d.process.pid!)],
    stop: async () => {
      const ids = (await run('docker', ['ps', '-aq'], { env: d.env })).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await run('docker', ['rm', '-f', ...ids], { env: d.env });
      await d.stop();
      dir[Symbol.dispose]();
    },
  };
}

/** Resident set size (KiB) of a set of pids. */
export function rssKiB(pids: number[]): number {
  let total = 0;
  for (const p of pids) {
    try {
      total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return total;
}

export async function docker(d: Daemon, args: string[]): Promise<string> {
  const r = await run('docker', args, { env: d.env });
  if (r.code !== 0) throw new Error(`${d.name}: docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
