import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { stopProcess, waitFor } from './process.ts';

/** The shared loopback registry mirror that tools/setup/services.sh starts and fills (read-only for tests). */
export const SHARED_REGISTRY = process.env.BERTH_REGISTRY_ADDR ?? '127.0.0.1:5000';

/** A free TCP port on loopback, chosen by the kernel. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface PrivateRegistry extends AsyncDisposable {
  /** host:port */
  addr: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts Debian's docker-registry on a free loopback port with storage under `dir`, for tests that push or
 * need auth. `htpasswd` (a file path) turns on basic auth; `extraYaml` is appended to the config.
 */
export async function startRegistry(dir: string, opts: { htpasswd?: string; extraYaml?: string } = {}): Promise<PrivateRegistry> {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const config = path.join(dir, 'config.yml');
  writeFileSync(config, [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${addr}`,
    ...(opts.htpasswd ? ['auth:', '  htpasswd:', '    realm: berth-test', `    path: ${opts.htpasswd}`] : []),
    opts.extraYaml ?? '',
  ].join('\n'));
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    const res = await fetch(`http://${addr}/v2/`).catch(() => undefined);
    return res !== undefined;
  }, `docker-registry on ${addr}`);
  const stop = () => stopProcess(child);
  return { addr, process: child, stop, [Symbol.asyncDispose]: stop };
}
