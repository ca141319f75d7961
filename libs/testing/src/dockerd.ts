import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { removeCgroupTree } from './cgroups.ts';
import { SHARED_REGISTRY } from './registry.ts';
import { stopProcess, waitFor } from './process.ts';
import { uniqueSuffix } from './names.ts';

export interface PrivateDockerd extends AsyncDisposable {
  /** `unix://…` for DOCKER_HOST */
  host: string;
  socket: string;
  process: ChildProcess;
  /** Environment for running the docker CLI against this daemon. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/**
 * Starts a real dockerd (Debian's docker.io) on a private socket, data root and exec root under `dir`, with
 * its own managed containerd, no bridge and no iptables rules, its own cgroup parent, and the shared loopback
 * registry as docker.io mirror. Never touches /var/lib/docker or /run/docker.sock.
 */
export async function startDockerd(
  dir: string,
  opts: { runtimes?: Record<string, string>; extraArgs?: string[] } = {},
): Promise<PrivateDockerd> {
  if (!existsSync('/usr/sbin/dockerd')) throw new Error('dockerd is not installed (Debian package docker.io; tools/setup/install.sh installs it)');
  // dockerd's own socket path and its managed containerd's must stay short (unix socket path limit).
  const id = uniqueSuffix();
  const exec = `/run/berth-test-docker-${id}`;
  const socket = path.join(exec, 'docker.sock');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  mkdirSync(exec, { recursive: true });
  const args = [
    `--data-root=${path.join(dir, 'data')}`, `--exec-root=${exec}`, `--host=unix://${socket}`,
    `--pidfile=${path.join(dir, 'docker.pid')}`, '--bridge=none', '--iptables=false', '--ip-masq=false',
    `--cgroup-parent=/berth-test-dockerd-${id}`, `--registry-mirror=http://${SHARED_REGISTRY}`,
    `--insecure-registry=${SHARED_REGISTRY}`, '--log-level=warn',
    ...Object.entries(opts.runtimes ?? {}).map(([name, p]) => `--add-runtime=${name}=${p}`),
    ...(opts.extraArgs ?? []),
  ];
  const log = openSync(path.join(dir, 'dockerd.log'), 'a');
  const child = spawn('/usr/sbin/dockerd', args, { stdio: ['ignore', log, log], env: { ...process.env, DOCKER_HOST: '' } });
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, 'cli-config') };
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}; see ${path.join(dir, 'dockerd.log')}`);
    return existsSync(socket) && (await pingUnix(socket));
  }, `dockerd on ${socket}`, 60_000, 100);
  const stop = async () => {
    await stopProcess(child, 15_000);
    // dockerd leaves some mounts behind under its roots (e.g. <exec-root>/netns/default after a --network host
    // container); detach them, deepest first, before removing the directories.
    unmountUnder(exec);
    unmountUnder(dir);
    rmSync(exec, { recursive: true, force: true });
    removeCgroupTree(`/berth-test-dockerd-${id}`);
  };
  return { host: `unix://${socket}`, socket, process: child, env, stop, [Symbol.asyncDispose]: stop };
}

function unmountUnder(root: string): void {
  const targets = readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((t): t is string => t !== undefined && (t === root || t.startsWith(`${root}/`)))
    .sort((a, b) => b.length - a.length);
  for (const t of targets) spawnSync('umount', ['--lazy', t]);
}

async function pingUnix(socket: string): Promise<boolean> {
  const http = await import('node:http');
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping', method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}
