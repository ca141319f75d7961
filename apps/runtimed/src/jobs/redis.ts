/**
 * Redis for the job queue: the one given by `--redis-url`, or a private `redis-server` listening only on a
 * unix socket in the state dir (`--port 0`, no persistence). A private Redis left running by a runtimed that
 * was killed is adopted by the next one (same socket); a clean shutdown stops it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { UnavailableError } from '@berth/errdefs';

export interface RedisHandle {
  /** ioredis options for new connections (BullMQ wants its own per Worker/QueueEvents). */
  options: RedisOptions;
  /** Stops the private server (no-op for an external Redis). */
  stop(): Promise<void>;
  /** The private server's pid, if runtimed runs one. */
  pid: number | undefined;
}

export function redisOptionsFromUrl(url: string): RedisOptions {
  if (url.startsWith('unix://')) return { path: url.slice('unix://'.length) };
  const u = new URL(url);
  const opts: RedisOptions = { host: u.hostname, port: Number(u.port || 6379) };
  if (u.password) opts.password = decodeURIComponent(u.password);
  if (u.username) opts.username = decodeURIComponent(u.username);
  const db = u.pathname.replace(/^\//, '');
  if (db) opts.db = Number(db);
  return opts;
}

async function ping(options: RedisOptions, timeoutMs: number): Promise<boolean> {
  const r = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export async function startRedis(opts: { url: string; state: string; server: string; log: Logger }): Promise<RedisHandle> {
  if (opts.url) {
    const options = redisOptionsFromUrl(opts.url);
    if (!(await ping(options, 2_000))) throw new UnavailableError(`connect to Redis at ${opts.url}: no answer to PING`);
    return { options, stop: async () => {}, pid: undefined };
  }
  const dir = path.join(opts.state, 'redis');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socket = path.join(dir, 'redis.sock');
  const pidFile = path.join(dir, 'redis.pid');
  const options: RedisOptions = { path: socket };
  if (await ping(options, 500)) {
    const pid = readPid(pidFile);
    opts.log.info({ socket, pid }, 'adopted the private redis-server left by a previous runtimed');
    return { options, pid, stop: () => stopPid(pid, socket) };
  }
  rmSync(socket, { force: true });
  const child = spawn(opts.server, [
    '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--pidfile', pidFile,
    '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', '--logfile', path.join(dir, 'redis.log'),
  ], { stdio: 'ignore', detached: true });
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  child.unref();
  const deadline = Date.now() + 10_000;
  while (!(await ping(options, 200))) {
    if (spawnError) throw new UnavailableError(`start ${opts.server}: ${spawnError.message}`, { cause: spawnError });
    if (child.exitCode !== null) throw new UnavailableError(`start ${opts.server}: exited with ${child.exitCode}; see ${path.join(dir, 'redis.log')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new UnavailableError(`start ${opts.server}: no answer on ${socket} after 10 s`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  opts.log.debug({ socket, pid: child.pid }, 'private redis-server started');
  return { options, pid: child.pid, stop: () => stopPid(child.pid, socket) };
}

function isRedisServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis-server');
  } catch {
    return false;
  }
}

async function stopPid(pid: number | undefined, socket: string): Promise<void> {
  // The pid comes from a file; never signal a process that is not the redis-server we started.
  if (!pid || !isRedisServer(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch { /* already gone */ }
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  rmSync(socket, { force: true });
}
