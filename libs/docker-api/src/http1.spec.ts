// The HTTP/1.1 transport against a local server on a unix socket: framing (content-length, chunked,
// until-close), keep-alive reuse, streamed request bodies, upgrades with bytes already read, errors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DockerClient, daemonStatus, readText } from './client.ts';
import { ConnectError, Transport } from './http1.ts';
import { parseHost } from './host.ts';

let server: http.Server;
let dir: string;
let socket: string;
const seenSockets = new Set<unknown>();

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'berth-http1-'));
  socket = path.join(dir, 'api.sock');
  server = http.createServer((req, res) => {
    seenSockets.add(req.socket);
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/_ping') {
      res.writeHead(200, { 'Api-Version': '1.45', 'Ostype': 'linux' });
      res.end(req.method === 'HEAD' ? undefined : 'OK');
    } else if (url.pathname === '/v1.45/fixed') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '11' });
      res.end('{"ok":true}');
    } else if (url.pathname === '/v1.45/chunked') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"a":');
      setTimeout(() => res.end('[1,2,3]}'), 20);
    } else if (url.pathname === '/v1.45/echo') {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => res.end(`${req.headers['transfer-encoding'] ?? 'fixed'}:${Buffer.concat(parts).toString()}`));
    } else if (url.pathname === '/v1.45/missing') {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"message":"No such container: nope"}');
    } else if (url.pathname === '/v1.45/close') {
      res.writeHead(200, { Connection: 'close' });
      res.end('bye');
    } else {
      res.writeHead(500);
      res.end('unexpected');
    }
  });
  server.on('upgrade', (req, sock, head) => {
    sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly-bytes|');
    if (head.length) sock.write(head);
    sock.on('data', (d: Buffer) => sock.write(`echo:${d.toString()}`));
    sock.on('end', () => sock.end('|closed'));
  });
  await new Promise<void>((r) => server.listen(socket, r));
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('negotiates the API version with /_ping and reuses the connection', async () => {
  seenSockets.clear();
  const c = new DockerClient({ host: `unix://${socket}` });
  assert.equal(await c.apiVersion(), '1.45');
  assert.deepEqual(await c.json('GET', '/fixed'), { ok: true });
  assert.deepEqual(await c.json('GET', '/chunked'), { a: [1, 2, 3] });
  assert.equal(seenSockets.size, 1, 'one keep-alive connection for ping and requests');
  c.close();
});

test('a pinned version skips negotiation; newer servers are capped at the client maximum', async () => {
  const pinned = new DockerClient({ host: `unix://${socket}`, version: 'v1.45' });
  assert.equal(await pinned.apiVersion(), '1.45');
  const capped = new DockerClient({ host: `unix://${socket}`, maxVersion: '1.41' });
  assert.equal(await capped.apiVersion(), '1.41');
  pinned.close();
  capped.close();
});

test('request bodies: fixed and streamed (chunked)', async () => {
  const c = new DockerClient({ host: `unix://${socket}`, version: '1.45' });
  assert.equal(await readText((await c.request('POST', '/echo', { body: 'abc' })).body), 'fixed:abc');
  async function* gen() {
    yield Buffer.from('one,');
    yield Buffer.from('two');
  }
  assert.equal(await readText((await c.request('POST', '/echo', { body: gen() })).body), 'chunked:one,two');
  c.close();
});

test('error statuses become typed errors with the daemon message', async () => {
  const c = new DockerClient({ host: `unix://${socket}`, version: '1.45' });
  await assert.rejects(c.json('GET', '/missing'), (err: unknown) => {
    assert.equal((err as Error).name, 'NotFoundError');
    assert.equal((err as Error).message, 'No such container: nope');
    assert.equal(daemonStatus(err), 404);
    return true;
  });
  // the connection survives an error response, and a server closing it is handled
  assert.equal(await readText((await c.request('GET', '/close')).body), 'bye');
  assert.deepEqual(await c.json('GET', '/fixed'), { ok: true });
  c.close();
});

test('hijack: 101 upgrade returns the raw socket with bytes that arrived with the head', async () => {
  const c = new DockerClient({ host: `unix://${socket}`, version: '1.45' });
  const { socket: s, headers } = await c.hijack('POST', '/containers/x/attach', { query: { stream: true, stdin: true } });
  assert.equal(headers['content-type'], 'application/vnd.docker.raw-stream');
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString()));
  s.resume();
  const ended = new Promise((r) => s.on('end', r));
  s.write('hi');
  await new Promise((r) => setTimeout(r, 50));
  s.end();
  await ended;
  assert.equal(got, 'early-bytes|echo:hi|closed');
  c.close();
});

test('an unreachable daemon is a ConnectError naming the host', async () => {
  const t = new Transport(parseHost(`unix://${path.join(dir, 'nothing.sock')}`));
  await assert.rejects(t.request({ method: 'GET', path: '/_ping' }), (err: unknown) => {
    assert.ok(err instanceof ConnectError);
    assert.equal(err.errno, 'ENOENT');
    assert.match(err.message, /nothing\.sock/);
    return true;
  });
});
