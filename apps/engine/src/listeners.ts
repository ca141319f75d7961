/**
 * Listening: one HTTP server per `-H` address, all serving the same app. Unix sockets are 0660 (group `berth`
 * when it exists, or `--group`); TCP needs `--tlsverify` (client certificates) unless it is bound to loopback.
 * Requests go to fastify's router; upgrade requests (attach, exec) to the hijack routes.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { InvalidArgumentError } from '@berth/errdefs';
import { handleUpgrade, type HijackRoutes } from './api/hijack.ts';
import type { DaemonConfig } from './config.ts';

export interface Listener {
  address: string;
  server: http.Server;
  close(): Promise<void>;
}

export type ParsedHost = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseHostAddress(h: string, tls: boolean): ParsedHost {
  if (h.startsWith('unix://')) {
    const p = h.slice('unix://'.length);
    if (!p.startsWith('/')) throw new InvalidArgumentError(`invalid unix socket address ${h}: the path must be absolute`);
    return { kind: 'unix', path: p };
  }
  if (h.startsWith('tcp://')) {
    const rest = h.slice('tcp://'.length).replace(/\/$/, '');
    const m = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(rest);
    if (!m) throw new InvalidArgumentError(`invalid tcp address ${h}`);
    const host = (m[1] || '0.0.0.0').replace(/^\[|\]$/g, '');
    return { kind: 'tcp', host, port: m[2] ? Number(m[2]) : tls ? 2376 : 2375 };
  }
  if (h.startsWith('fd://')) throw new InvalidArgumentError('fd:// (systemd socket activation) is not supported; use unix:// or tcp://');
  if (h.startsWith('/')) return { kind: 'unix', path: h };
  throw new InvalidArgumentError(`invalid daemon address ${h}: use unix:///path or tcp://host:port`);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function groupId(name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  try {
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === name);
    return line ? Number(line.split(':')[2]) : undefined;
  } catch {
    return undefined;
  }
}

/** Parses the `-H` addresses and refuses plain TCP off loopback; called before anything starts. */
export function checkHosts(config: DaemonConfig): { address: string; parsed: ParsedHost }[] {
  const tls = config.tls || config.tlsVerify;
  const hosts = config.hosts.map((h) => ({ address: h, parsed: parseHostAddress(h, tls) }));
  for (const { address, parsed } of hosts) {
    if (parsed.kind === 'tcp' && !config.tlsVerify && !isLoopback(parsed.host)) {
      throw new InvalidArgumentError(
        `refusing to listen on ${address} without --tlsverify: the API gives root on this host to anyone who can reach it (use a loopback address, a unix socket, or --tlsverify with --tlscacert/--tlscert/--tlskey)`,
      );
    }
    if (parsed.kind === 'tcp' && tls) {
      for (const [flag, file] of [['--tlscert', config.tlsCert], ['--tlskey', config.tlsKey], ...(config.tlsVerify ? [['--tlscacert', config.tlsCaCert]] : [])]) {
        if (!existsSync(file!)) throw new InvalidArgumentError(`${flag} ${file}: no such file`);
      }
    }
  }
  return hosts;
}

/** Starts every listener; refuses unsafe TCP before opening anything. */
export async function listen(app: FastifyInstance, hijack: HijackRoutes, config: DaemonConfig): Promise<Listener[]> {
  const tls = config.tls || config.tlsVerify;
  const hosts = checkHosts(config);
  const listeners: Listener[] = [];
  try {
    for (const { address, parsed } of hosts) listeners.push(await listenOne(app, hijack, config, address, parsed, tls));
  } catch (err) {
    for (const l of listeners) await l.close();
    throw err;
  }
  return listeners;
}

async function listenOne(
  app: FastifyInstance, hijack: HijackRoutes, config: DaemonConfig, address: string, parsed: ParsedHost, tls: boolean,
): Promise<Listener> {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => app.routing(req, res);
  let server: http.Server;
  if (parsed.kind === 'tcp' && tls) {
    let opts: https.ServerOptions;
    try {
      opts = {
        cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey),
        ...(config.tlsVerify ? { ca: readFileSync(config.tlsCaCert), requestCert: true, rejectUnauthorized: true } : {}),
        minVersion: 'TLSv1.2',
      };
    } catch (err) {
      throw new InvalidArgumentError(`TLS for ${address}: ${(err as Error).message}`);
    }
    server = https.createServer(opts, handler) as unknown as http.Server;
  } else {
    server = http.createServer(handler);
  }
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.requestTimeout = 0;
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    socket.setNoDelay(true);
    void handleUpgrade(hijack, req, socket, head, app.log);
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"message":"bad request"}\n');
    else socket.destroy();
    app.log.debug({ err }, 'client error');
  });
  if (parsed.kind === 'unix') {
    mkdirSync(path.dirname(parsed.path), { recursive: true, mode: 0o755 });
    if (existsSync(parsed.path)) {
      if (!lstatSync(parsed.path).isSocket()) throw new InvalidArgumentError(`${parsed.path} exists and is not a socket`);
      unlinkSync(parsed.path);
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(parsed.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(parsed.path, 0o660);
    const gid = groupId(config.group || 'berth');
    if (gid !== undefined) chownSync(parsed.path, 0, gid);
    else if (config.group) app.log.warn({ group: config.group }, 'the socket group does not exist; the socket stays root-only');
  } else {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(parsed.port, parsed.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (!tls) app.log.warn({ address }, 'API listening on loopback TCP without TLS: any local user can use it');
  }
  app.log.info({ address }, 'API listening');
  return {
    address,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => {
        server.closeAllConnections();
        resolve();
      }, 2000).unref();
      if (parsed.kind === 'unix') {
        try {
          unlinkSync(parsed.path);
        } catch {
          // gone already
        }
      }
    }),
  };
}

/** Whether a group exists (for docs/tests). */
export function hasGroup(name: string): boolean {
  try {
    execFileSync('getent', ['group', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
