/**
 * berthd's own berth-runtimed (when no `--containerd` is given), like dockerd's managed containerd: started
 * with the engine's paths, adopted again after a daemon crash (its pid file names a live process answering on
 * the socket), stopped when the engine stops (its shims and containers keep running).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { RuntimedClient } from '@berth/containerd-api';
import { UnavailableError } from '@berth/errdefs';
import type { DaemonConfig } from './config.ts';
import { snapshotterFor } from './config.ts';

export interface RuntimedHandle {
  address: string;
  /** Stops the process if this daemon started (or adopted) it. */
  stop(): Promise<void>;
}

/** runtimed's paths for an engine: the defaults for the default engine, else under the engine's own roots. */
export function runtimedPaths(c: DaemonConfig): { address: string; root: string; state: string; pidfile: string; log: string } {
  const isDefault = c.dataRoot === '/var/lib/berth' && c.execRoot === '/run/berth';
  const state = isDefault ? '/run/berth-runtimed' : path.join(c.execRoot, 'rt');
  return {
    address: path.join(c.execRoot, 'runtimed.sock'),
    root: isDefault ? '/var/lib/berth-runtimed' : path.join(c.dataRoot, 'runtimed'),
    state,
    pidfile: path.join(c.execRoot, 'runtimed.pid'),
    log: path.join(c.execRoot, 'runtimed.log'),
  };
}

/** The berth-runtimed program: flag, then PATH, then this checkout's bundle. */
export function findRuntimed(flag: string): { cmd: string; args: string[] } {
  const asNode = (p: string) => (p.endsWith('.ts') || p.endsWith('.js') ? { cmd: process.execPath, args: [p] } : { cmd: p, args: [] });
  if (flag) return asNode(flag);
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, 'berth-runtimed');
    if (dir && existsSync(p)) return { cmd: p, args: [] };
  }
  for (const base of [import.meta.dirname, path.join(import.meta.dirname, '..')]) {
    const p = path.resolve(base, '../../runtimed/dist/main.js');
    if (existsSync(p)) return asNode(p);
  }
  throw new UnavailableError('berth-runtimed not found (give --runtimed-path, put it on PATH, or build apps/runtimed)');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startRuntimed(c: DaemonConfig, log: FastifyBaseLogger): Promise<RuntimedHandle> {
  const p = runtimedPaths(c);
  mkdirSync(path.dirname(p.address), { recursive: true, mode: 0o711 });
  // A runtimed left by a crashed berthd keeps serving its containers: adopt it.
  if (existsSync(p.pidfile)) {
    const pid = Number(readFileSync(p.pidfile, 'utf8').trim());
    if (pid > 0 && alive(pid)) {
      const rt = new RuntimedClient(p.address);
      try {
        await rt.waitReady(3000);
        log.info({ runtimedPid: pid, address: p.address }, 'adopting the running berth-runtimed');
        return { address: p.address, stop: () => stopPid(pid, p.pidfile) };
      } catch {
        log.warn({ pid }, 'the recorded berth-runtimed does not answer; starting a new one');
      } finally {
        rt.close();
      }
    }
  }
  const prog = findRuntimed(c.runtimedPath);
  const args = [
    ...prog.args, '--address', p.address, '--root', p.root, '--state', p.state, '--log-level', c.logLevel === 'trace' ? 'debug' : c.logLevel,
    '--snapshotter', snapshotterFor(c.storageDriver),
    ...c.registryMirrors.flatMap((m) => ['--registry-mirror', m]),
    ...c.insecureRegistries.flatMap((r) => ['--insecure-registry', r]),
  ];
  const out = openSync(p.log, 'a');
  const child = spawn(prog.cmd, args, { stdio: ['ignore', out, out], detached: true, env: { ...process.env } });
  child.unref();
  if (!child.pid) throw new UnavailableError(`start berth-runtimed (${prog.cmd}): no process`);
  writeFileSync(p.pidfile, String(child.pid));
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  const rt = new RuntimedClient(p.address);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited !== null) throw new UnavailableError(`berth-runtimed exited with ${exited}; see ${p.log}`);
      try {
        await rt.waitReady(500);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new UnavailableError(`berth-runtimed did not answer on ${p.address} in 30 s; see ${p.log}`, { cause: err });
      }
    }
  } finally {
    rt.close();
  }
  log.info({ runtimedPid: child.pid, address: p.address }, 'started berth-runtimed');
  return { address: p.address, stop: () => stopPid(child.pid!, p.pidfile) };
}

async function stopPid(pid: number, pidfile: string): Promise<void> {
  if (alive(pid)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidfile, { force: true });
}
