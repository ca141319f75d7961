/**
 * Test helpers (not a spec): a private berthd per test file — its own data root, exec root, socket, runtimed,
 * cgroup parent, bridge and subnet — started from this checkout's sources, plus the docker CLI pointed at it.
 * `stop()` removes every container it made and everything on the machine the daemon created.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { SHARED_REGISTRY, removeCgroupTree, run, stopProcess, testSubnet, uniqueSuffix, waitFor, type RunResult } from '@berth/testing';

const MAIN = path.join(import.meta.dirname, 'main.ts');

export interface HttpAnswer { status: number; headers: http.IncomingHttpHeaders; body: string }

export interface TestDaemon {
  socket: string;
  host: string;
  env: NodeJS.ProcessEnv;
  dataRoot: string;
  execRoot: string;
  cgroupParent: string;
  bridge: string;
  logFile: string;
  process: ChildProcess;
  /** Runs the docker CLI against this daemon. */
  docker(args: string[], opts?: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** An HTTP request on the socket; resolves with status, headers and body. */
  request(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** SIGTERM (graceful: containers keep running). */
  shutdown(): Promise<void>;
  /** SIGKILL the engine only (its runtimed and containers stay). */
  kill9(): Promise<void>;
  /** Starts the engine again on the same roots. */
  restart(extraArgs?: string[]): Promise<void>;
  /** Removes every container, stops the daemon and its runtimed, and cleans the machine. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  extraArgs?: string[];
  /** daemon.json content (a fresh file per daemon; none: `{}`, so the machine's /etc/berth/daemon.json is not read). */
  config?: Record<string, unknown>;
  /** Give no -H (the config file provides hosts). */
  noHostFlag?: boolean;
}

export async function startBerthd(opts: DaemonOptions = {}): Promise<TestDaemon> {
  const id = uniqueSuffix(4);
  const dataRoot = `/tmp/berth-engine-test-${id}`;
  const execRoot = `/run/bte-${id}`;
  const socket = path.join(execRoot, 'engine.sock');
  const cgroupParent = `/berth-test-${id}`;
  const bridge = `bte${id.slice(0, 8)}`;
  const sub = testSubnet();
  mkdirSync(dataRoot, { recursive: true });
  const configFile = path.join(dataRoot, 'daemon.json');
  writeFileSync(configFile, JSON.stringify(opts.config ?? {}));
  const logFile = path.join(dataRoot, 'berthd.log');
  const args = [
    MAIN, '--config-file', configFile, '--data-root', dataRoot, '--exec-root', execRoot,
    ...(opts.noHostFlag ? [] : ['-H', `unix://${socket}`]),
    '--cgroup-parent', cgroupParent, '--bridge', bridge, '--bip', `${sub.gateway}/24`, '--iptables=false', '--log-level', 'debug',
    ...(opts.config?.['registry-mirrors'] ? [] : ['--registry-mirror', `http://${SHARED_REGISTRY}`]),
    ...(opts.config?.['insecure-registries'] ? [] : ['--insecure-registry', SHARED_REGISTRY]),
    ...(opts.extraArgs ?? []),
  ];
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dataRoot, 'cli-config') };

  let child!: ChildProcess;
  const launch = async (extra: string[] = []) => {
    const out = openSync(logFile, 'a');
    child = spawn(process.execPath, [...args, ...extra], { stdio: ['ignore', out, out], env: { ...process.env, DOCKER_HOST: '' } });
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`berthd exited with ${child.exitCode}: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      return existsSync(socket) && (await ping(socket));
    }, `berthd on ${socket}`, 60_000, 50);
  };
  await launch();

  const docker: TestDaemon['docker'] = (a, o = {}) => runCli('docker', a, { ...env, ...(o.env ?? {}) }, o.input, o.timeoutMs ?? 60_000);

  const d: TestDaemon = {
    socket, host: `unix://${socket}`, env, dataRoot, execRoot, cgroupParent, bridge, logFile,
    get process() {
      return child;
    },
    docker,
    request: (method, urlPath, body, headers) => request(socket, method, urlPath, body, headers),
    shutdown: async () => {
      await stopProcess(child, 20_000);
    },
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
    },
    restart: (extra) => launch(extra),
    stop: async () => {
      try {
        if (child.exitCode === null && child.signalCode === null) {
          const ids = (await docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
          if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids], { timeoutMs: 120_000 });
          await stopProcess(child, 20_000);
        }
      } finally {
        // A runtimed left behind (engine killed) is stopped by pid.
        const pidfile = path.join(execRoot, 'runtimed.pid');
        if (existsSync(pidfile)) {
          const pid = Number(readFileSync(pidfile, 'utf8'));
          try {
            process.kill(pid, 'SIGTERM');
            await waitFor(() => {
              try {
                process.kill(pid, 0);
                return false;
              } catch {
                return true;
              }
            }, 'runtimed to exit', 15_000);
          } catch {
            // gone
          }
        }
        await run('ip', ['link', 'del', bridge]);
        await umountUnder(execRoot);
        await umountUnder(dataRoot);
        rmSync(execRoot, { recursive: true, force: true });
        rmSync(dataRoot, { recursive: true, force: true });
        try {
          removeCgroupTree(cgroupParent);
        } catch (err) {
          process.stderr.write(`cgroup cleanup: ${(err as Error).message}\n`);
        }
      }
    },
  };
  return d;
}

/** Runs a command to completion (killed after `timeoutMs`, then rejected), capturing output. */
export function runCli(
  cmd: string, args: string[], env: NodeJS.ProcessEnv, input: string | Buffer | undefined, timeoutMs: number,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Unmounts anything still mounted under `dir` (deepest first). */
async function umountUnder(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m]);
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping', method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

export function request(
  socket: string, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const req = http.request({
      socketPath: socket, path: urlPath, method,
      headers: { ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}), ...headers },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8').on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
