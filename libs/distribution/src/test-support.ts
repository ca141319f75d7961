/**
 * Test fixtures for this library's integration tests (not exported): a token server for the registry's
 * bearer auth, a throttling TCP proxy that can be re-pointed and counts bytes, and image builders that write
 * real images into a content store.
 */
import { execFileSync } from 'node:child_process';
import { createSign, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, connect, type Socket } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { childGcLabels, compressLayer, type ContentStore } from '@berth/layer-store';
import {
  type Descriptor, type ImageConfig, type ImageManifest, MediaTypeImageConfig, MediaTypeImageLayerGzip,
  MediaTypeImageManifest, digestOf,
} from '@berth/oci';
import { blobStoreOf } from './content.ts';
import { writeTar, type TarWriteEntry } from './tar-stream.ts';

// ---------------------------------------------------------------- token server

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** The registry config fragment that turns token auth on. */
  yaml: string;
  /** Token requests seen: `GET account=… scope=…`. */
  requests: string[];
  stop(): Promise<void>;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/**
 * A token server per the distribution token spec: Basic credentials from `users` get what they ask for;
 * anonymous clients get `pull` on repositories under `publicPrefix`. POST supports the OAuth2 password and
 * refresh-token grants; `offline_token=true` (GET) or `access_type=offline` returns a refresh token.
 */
export async function startTokenServer(
  dir: string, users: Record<string, string>, opts: { publicPrefix?: string } = {},
): Promise<TokenServer> {
  const key = path.join(dir, 'token-key.pem');
  const certFile = path.join(dir, 'token-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', certFile, '-days', '2', '-subj', '/CN=berth-test-token'], { stdio: 'ignore' });
  const keyPem = readFileSync(key, 'utf8');
  const certDer = new X509Certificate(readFileSync(certFile)).raw;
  const service = 'berth-test-registry';
  const issuer = 'berth-test-issuer';
  const refreshTokens = new Map<string, string>();
  const requests: string[] = [];

  const sign = (sub: string, scopes: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.flatMap((s) => {
      const m = /^(repository|registry):([^:]+):(.*)$/.exec(s);
      if (!m) return [];
      let actions = m[3]!.split(',').filter(Boolean);
      if (!sub) actions = m[1] === 'repository' && opts.publicPrefix && m[2]!.startsWith(opts.publicPrefix) ? actions.filter((a) => a === 'pull') : [];
      return actions.length ? [{ type: m[1], name: m[2], actions }] : [];
    });
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] }));
    const claims = b64url(JSON.stringify({
      iss: issuer, sub, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access,
    }));
    const signer = createSign('RSA-SHA256');
    signer.update(`${header}.${claims}`);
    return `${header}.${claims}.${b64url(signer.sign(keyPem))}`;
  };
  const deny = (res: ServerResponse) => {
    res.writeHead(401, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] }));
  };
  const basicUser = (req: IncomingMessage): string | undefined | false => {
    const h = req.headers.authorization;
    if (!h) return undefined;
    const m = /^Basic (.+)$/.exec(h);
    if (!m) return false;
    const [u, ...p] = Buffer.from(m[1]!, 'base64').toString('utf8').split(':');
    return users[u!] !== undefined && users[u!] === p.join(':') ? u : false;
  };

  const server: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'GET') {
      const user = basicUser(req);
      const scopes = url.searchParams.getAll('scope');
      requests.push(`GET account=${url.searchParams.get('account') ?? ''} scope=${scopes.join(' ')}`);
      if (user === false) return deny(res);
      const body: Record<string, unknown> = { token: sign(user ?? '', scopes), expires_in: 300, issued_at: new Date().toISOString() };
      if (user && url.searchParams.get('offline_token') === 'true') {
        const rt = randomBytes(16).toString('hex');
        refreshTokens.set(rt, user);
        body.refresh_token = rt;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
      return;
    }
    if (req.method === 'POST') {
      let data = '';
      req.setEncoding('utf8').on('data', (d: string) => (data += d)).on('end', () => {
        const form = new URLSearchParams(data);
        const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        requests.push(`POST grant=${form.get('grant_type')} scope=${scopes.join(' ')}`);
        let user: string | undefined;
        if (form.get('grant_type') === 'refresh_token') user = refreshTokens.get(form.get('refresh_token') ?? '');
        else if (form.get('grant_type') === 'password' && users[form.get('username') ?? ''] === form.get('password')) user = form.get('username')!;
        if (!user) return deny(res);
        const rt = randomBytes(16).toString('hex');
        refreshTokens.set(rt, user);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ access_token: sign(user, scopes), expires_in: 300, refresh_token: rt }));
      });
      return;
    }
    res.writeHead(405).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const realm = `http://127.0.0.1:${port}/token`;
  const yaml = ['auth:', '  token:', `    realm: ${realm}`, `    service: ${service}`, `    issuer: ${issuer}`, `    rootcertbundle: ${certFile}`].join('\n');
  return {
    realm, service, issuer, certFile, yaml, requests,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

// ---------------------------------------------------------------- throttling TCP proxy

export interface Proxy {
  addr: string;
  /** Bytes sent from the target to clients so far. */
  bytesDown: number;
  /** Points new connections at another target. */
  setTarget(addr: string): void;
  /** Limits the target → client rate (bytes per second; 0 = unlimited). */
  setRate(bytesPerSecond: number): void;
  stop(): Promise<void>;
}

export async function startProxy(target: string, bytesPerSecond = 0): Promise<Proxy> {
  let current = target;
  let rate = bytesPerSecond;
  const sockets = new Set<Socket>();
  const state = { bytesDown: 0 };
  const server = createNetServer((client) => {
    sockets.add(client);
    const [host, port] = [current.slice(0, current.lastIndexOf(':')), Number(current.slice(current.lastIndexOf(':') + 1))];
    const upstream = connect(port, host);
    sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      state.bytesDown += chunk.length;
      client.write(chunk);
      if (rate > 0) {
        upstream.pause();
        setTimeout(() => upstream.resume(), Math.ceil((chunk.length / rate) * 1000));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    addr,
    get bytesDown() {
      return state.bytesDown;
    },
    setTarget: (a) => (current = a),
    setRate: (r) => (rate = r),
    stop: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

// ---------------------------------------------------------------- images

export async function tarOf(entries: TarWriteEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of writeTar(entries) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A layer tar with one file of `size` random bytes (incompressible). */
export function randomLayer(name: string, size: number): Promise<Buffer> {
  return tarOf([{ name: `${name}/`, type: 'dir' }, { name: `${name}/data.bin`, body: randomBytes(size) }]);
}

/** Writes an image (gzip layers, OCI media types) from layer tars into the store; returns its manifest. */
export async function buildImage(
  cs: ContentStore, layerTars: Buffer[], opts: { arch?: string; cmd?: string[]; base?: { layers: Descriptor[]; diffIds: string[] } } = {},
): Promise<{
  manifest: Descriptor; config: Descriptor; layers: Descriptor[];
}> {
  const store = blobStoreOf(cs);
  const layers: Descriptor[] = [...(opts.base?.layers ?? [])];
  const diffIds = [...(opts.base?.diffIds ?? [])];
  for (const t of layerTars) {
    const c = compressLayer(Readable.from([t]));
    const chunks: Buffer[] = [];
    for await (const x of c.stream as AsyncIterable<Buffer>) chunks.push(x);
    const sums = await c.done;
    const data = Buffer.concat(chunks);
    const d: Descriptor = { mediaType: MediaTypeImageLayerGzip, digest: sums.digest, size: sums.size };
    await store.put(d, data);
    layers.push(d);
    diffIds.push(sums.diffID);
  }
  const config: ImageConfig = {
    architecture: opts.arch ?? 'amd64', os: 'linux', created: '2026-01-01T00:00:00Z',
    config: { Cmd: opts.cmd ?? ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds as ImageConfig['rootfs']['diff_ids'] },
  };
  const cb = Buffer.from(JSON.stringify(config));
  const cd: Descriptor = { mediaType: MediaTypeImageConfig, digest: digestOf(cb), size: cb.length };
  await store.put(cd, cb);
  const m: ImageManifest = { schemaVersion: 2, mediaType: MediaTypeImageManifest, config: cd, layers };
  const mb = Buffer.from(JSON.stringify(m));
  const md: Descriptor = { mediaType: MediaTypeImageManifest, digest: digestOf(mb), size: mb.length };
  await store.put(md, mb, childGcLabels(m));
  return { manifest: md, config: cd, layers };
}

/** Writes an htpasswd file (bcrypt, as docker-registry requires) with one user. */
export function writeHtpasswd(file: string, user: string, password: string): string {
  writeFileSync(file, execFileSync('htpasswd', ['-Bbn', user, password]));
  return file;
}

/** The data file of a blob in a docker-registry's filesystem storage. */
export function registryBlobFile(registryDir: string, digest: string): string {
  const hex = digest.slice(digest.indexOf(':') + 1);
  return path.join(registryDir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

// ---------------------------------------------------------------- HTTP fault injection

export interface Fault {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface FaultProxy {
  addr: string;
  /** Requests seen: `GET /v2/x/blobs/sha256:… Range=bytes=…`. */
  requests: string[];
  stop(): Promise<void>;
}

/**
 * An HTTP proxy in front of a real registry that answers some requests itself (`fault` returns a Fault) and
 * can cut a response body after some bytes (`cut` returns a byte count), to produce 429s, 5xxs and truncated
 * transfers on demand.
 */
export async function startFaultProxy(target: string, opts: {
  fault?: (method: string, url: string) => Fault | undefined;
  cut?: (method: string, url: string) => number | undefined;
}): Promise<FaultProxy> {
  const http = await import('node:http');
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const line = `${req.method} ${req.url}${req.headers.range ? ` Range=${req.headers.range}` : ''}`;
    requests.push(line);
    const f = opts.fault?.(req.method!, req.url!);
    if (f) {
      req.resume();
      res.writeHead(f.status, { 'Content-Type': 'application/json', ...f.headers });
      res.end(f.body ?? '');
      return;
    }
    const cutAt = opts.cut?.(req.method!, req.url!);
    const up = http.request({ host: target.split(':')[0], port: Number(target.split(':')[1]), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        if (cutAt !== undefined && sent + c.length >= cutAt) {
          res.write(c.subarray(0, Math.max(0, cutAt - sent)));
          res.socket?.destroy();
          ur.destroy();
          return;
        }
        sent += c.length;
        res.write(c);
      });
      ur.on('end', () => res.end());
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    addr: `127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
