// The Engine API on the wire, over berthd's unix socket: version negotiation and headers, Docker's error
// bodies, routes with slashes in image names, inspect's probing, the wait endpoint's early headers, hijacked
// attach (101 UPGRADED, framing by API version, half-close), and fuzzed or malformed requests that must never
// crash the daemon nor leave half-created objects. Needs root and the loopback registry.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerthd, type TestDaemon } from './test-support.ts';

/** A raw HTTP/1.1 exchange on the socket: writes `request`, reads until `until` matches or the peer closes. */
function raw(
  socket: string, request: string | Buffer, opts: { until?: RegExp; halfClose?: boolean; timeoutMs?: number } = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socket);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete answer in time; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`));
    }, opts.timeoutMs ?? 20_000);
    s.on('data', (d) => {
      chunks.push(d);
      if (opts.until && opts.until.test(Buffer.concat(chunks).toString('latin1'))) {
        clearTimeout(timer);
        s.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    s.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    s.on('error', reject);
    s.write(request, () => {
      if (opts.halfClose) s.end();
    });
  });
}

/** Splits a multiplexed stream into its frames. */
function demux(buf: Buffer): { stream: number; data: string }[] {
  const out: { stream: number; data: string }[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const len = buf.readUInt32BE(off + 4);
    out.push({ stream: buf[off]!, data: buf.subarray(off + 8, off + 8 + len).toString('utf8') });
    off += 8 + len;
  }
  return out;
}

describe('the Engine API on the wire', { concurrency: false }, () => {
  let berth: TestDaemon;
  const create = async (body: object, query = '') => {
    const r = await berth.request('POST', `/v1.47/containers/create${query}`, body);
    assert.equal(r.status, 201, r.body);
    return (JSON.parse(r.body) as { Id: string }).Id;
  };

  before(async () => {
    berth = await startBerthd();
    const r = await berth.docker(['pull', '-q', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await berth?.stop();
  });

  describe('requests', { concurrency: 4 }, () => {
    it('negotiates API versions with Docker\'s headers and messages', async () => {
      const head = await berth.request('HEAD', '/_ping');
      assert.equal(head.status, 200);
      assert.equal(head.headers['api-version'], '1.47');
      assert.equal(head.headers.ostype, 'linux');
      assert.equal(head.headers['builder-version'], '1');
      assert.equal(head.headers['docker-experimental'], 'false');
      assert.match(String(head.headers.server), /^berth\//);
      const get = await berth.request('GET', '/_ping');
      assert.equal(get.body, 'OK');
      for (const p of ['/version', '/v1.24/version', '/v1.41/version', '/v1.47/version']) assert.equal((await berth.request('GET', p)).status, 200, p);
      const tooNew = await berth.request('GET', '/v1.99/version');
      assert.equal(tooNew.status, 400);
      assert.equal(tooNew.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(tooNew.body), { message: 'client version 1.99 is too new. Maximum supported API version is 1.47' });
      const tooOld = await berth.request('GET', '/v1.12/version');
      assert.equal(tooOld.status, 400);
      assert.match(JSON.parse(tooOld.body).message, /client version 1\.12 is too old\. Minimum supported API version is 1\.24/);
      const nope = await berth.request('GET', '/v1.47/no/such/route');
      assert.equal(nope.status, 404);
      assert.deepEqual(JSON.parse(nope.body), { message: 'page not found' });
      assert.deepEqual(JSON.parse((await berth.request('GET', '/plugins')).body), []);
    });

    it('serves image names with slashes and answers inspect probes with clean 404s', async () => {
      const tag = await berth.request('POST', '/images/busybox/tag?repo=127.0.0.1:5000/some/deep/name&tag=t1');
      assert.equal(tag.status, 201, tag.body);
      const inspect = await berth.request('GET', '/v1.47/images/127.0.0.1:5000/some/deep/name:t1/json');
      assert.equal(inspect.status, 200, inspect.body);
      const hist = await berth.request('GET', '/images/127.0.0.1:5000/some/deep/name:t1/history');
      assert.equal(hist.status, 200);
      const del = await berth.request('DELETE', '/v1.47/images/127.0.0.1:5000/some/deep/name:t1');
      assert.equal(del.status, 200, del.body);
      assert.deepEqual(JSON.parse(del.body), [{ Untagged: '127.0.0.1:5000/some/deep/name:t1' }]);
      for (const [p, msg] of [
        ['/containers/ghost/json', 'No such container: ghost'],
        ['/images/ghost/json', 'No such image: ghost:latest'],
        ['/networks/ghost', 'network ghost not found'],
        ['/volumes/ghost', 'get ghost: no such volume'],
      ] as const) {
        const r = await berth.request('GET', `/v1.47${p}`);
        assert.equal(r.status, 404, p);
        assert.equal(JSON.parse(r.body).message, msg);
      }
      const cli = await berth.docker(['inspect', 'ghost']);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /Error: No such object: ghost/);
    });

    it('wait flushes its 200 headers before the container exits', async () => {
      const id = await create({ Image: 'busybox', Cmd: ['sleep', '2'] });
      const headersFirst = await raw(berth.socket, `POST /v1.47/containers/${id}/wait?condition=next-exit HTTP/1.1\r\nHost: x\r\n\r\n`, { until: /\r\n\r\n/ });
      assert.match(headersFirst.toString(), /^HTTP\/1\.1 200 OK\r\n/);
      const waitDone = raw(berth.socket, `POST /v1.47/containers/${id}/wait?condition=next-exit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal((await berth.request('POST', `/containers/${id}/start`)).status, 204);
      const body = (await waitDone).toString();
      assert.match(body, /"StatusCode":0/);
      assert.equal((await berth.request('DELETE', `/containers/${id}`)).status, 204);
    });

    it('attach upgrades with 101 and frames by API version; output goes on after the client half-closes', async () => {
      const run = async (version: string, tty: boolean) => {
        const id = await create({ Image: 'busybox', Tty: tty, Cmd: ['sh', '-c', 'echo out; echo err >&2'] });
        const res = raw(berth.socket, `POST /v${version}/containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`, { halfClose: true });
        await new Promise((r) => setTimeout(r, 200));
        assert.equal((await berth.request('POST', `/containers/${id}/start`)).status, 204);
        const buf = await res;
        const sep = buf.indexOf('\r\n\r\n');
        const head = buf.subarray(0, sep).toString();
        const bodyBuf = buf.subarray(sep + 4);
        assert.match(head, /^HTTP\/1\.1 101 UPGRADED\r\n/);
        assert.match(head, /Connection: Upgrade/);
        assert.match(head, /Upgrade: tcp/);
        await berth.request('DELETE', `/containers/${id}?force=1`);
        return { head, bodyBuf };
      };
      const modern = await run('1.47', false);
      assert.match(modern.head, /Content-Type: application\/vnd\.docker\.multiplexed-stream/);
      assert.deepEqual(demux(modern.bodyBuf).sort((a, b) => a.stream - b.stream), [{ stream: 1, data: 'out\n' }, { stream: 2, data: 'err\n' }]);
      const old = await run('1.41', false);
      assert.match(old.head, /Content-Type: application\/vnd\.docker\.raw-stream/);
      assert.equal(demux(old.bodyBuf).length, 2);
      const tty = await run('1.47', true);
      assert.match(tty.head, /Content-Type: application\/vnd\.docker\.raw-stream/);
      assert.equal(tty.bodyBuf.toString(), 'out\r\nerr\r\n');
    });
  });

  // Alone, so that the container list it compares is not changed by other tests meanwhile.
  describe('malformed input', () => {
    it('malformed and fuzzed requests get Docker-style errors and leave nothing behind', async () => {
      const before = (await berth.request('GET', '/containers/json?all=1')).body;
      const cases: [string, string, unknown, number][] = [
        ['POST', '/containers/create', '{"Image": "busybox", ', 400],
        ['POST', '/containers/create', '[1,2,3]', 400],
        ['POST', '/containers/create', { Image: 'busybox', Cmd: 5 }, 400],
        ['POST', '/containers/create', { Image: 'busybox', Env: 'A=b' }, 400],
        ['POST', '/containers/create', { Image: 'busybox', HostConfig: { Memory: 'lots' } }, 400],
        ['POST', '/containers/create', { Image: 'busybox', HostConfig: { Binds: ['relative:/x:zz'] } }, 400],
        ['POST', '/containers/create', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'sometimes' } } }, 400],
        ['POST', '/containers/create', { Image: 'busybox', HostConfig: { CapAdd: ['NOT_A_CAP'] } }, 400],
        ['POST', '/containers/create', { Image: 'busybox', HostConfig: { Mounts: [{ Type: 'bind', Source: '/no/such/dir', Target: '/x' }] } }, 400],
        ['POST', '/containers/create', { Image: 'busybox', HostConfig: { NetworkMode: 'no-such-network' } }, 404],
        ['POST', '/containers/create', { Image: 'no-such-image-xyz' }, 404],
        ['POST', '/containers/create', { Image: 'INVALID//ref' }, 400],
        ['POST', '/containers/create?name=../../etc', { Image: 'busybox' }, 400],
        ['POST', '/containers/create?name=a%2Fb', { Image: 'busybox' }, 400],
        ['POST', '/containers/create', { Image: 'busybox', Cmd: ['x'], HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }, 400],
        ['GET', '/containers/..%2F..%2Fetc%2Fpasswd/json', undefined, 404],
        ['POST', '/containers/ghost/start', undefined, 404],
        ['POST', '/containers/ghost/kill?signal=NOPE', undefined, 404],
        ['GET', '/containers/json?filters=%7Bnot-json', undefined, 400],
        ['GET', '/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D', undefined, 400],
        ['GET', '/images/json?filters=%7B%22dangling%22%3A%5B%22maybe%22%5D%7D', undefined, 400],
        ['POST', '/images/create?fromImage=Bad%20Name', undefined, 400],
        ['POST', '/exec/ghost/start', {}, 404],
        ['GET', '/containers/json?limit=abc', undefined, 400],
      ];
      for (const [method, p, body, status] of cases) {
        const r = await berth.request(method, `/v1.47${p}`, body);
        assert.equal(r.status, status, `${method} ${p}: ${r.status} ${r.body}`);
        const parsed = JSON.parse(r.body) as { message?: unknown };
        assert.equal(typeof parsed.message, 'string', `${method} ${p} gives {"message"}`);
      }
      // A huge body is refused without buffering it all.
      const huge = await berth.request('POST', '/v1.47/containers/create', `{"Image":"busybox","Labels":{"a":"${'x'.repeat(20 * 1024 * 1024)}"}}`);
      assert.equal(huge.status, 400);
      assert.match(JSON.parse(huge.body).message, /too large/);
      // Garbage on the socket.
      for (let i = 0; i < 30; i++) {
        await raw(berth.socket, randomBytes(1 + (i * 37) % 400), { timeoutMs: 5000 }).catch(() => undefined);
      }
      await raw(berth.socket, 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 999\r\n\r\n{"Ima', { timeoutMs: 500 }).catch(() => undefined);
      await raw(berth.socket, 'POST /v1.47/containers/ghost/attach?stream=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n', { timeoutMs: 5000 });
      // Still serving, and nothing was half-created.
      assert.equal((await berth.request('GET', '/_ping')).body, 'OK');
      assert.equal((await berth.request('GET', '/containers/json?all=1')).body, before);
      const dirs = readdirSync(path.join(berth.dataRoot, 'containers'));
      const known = (JSON.parse(before) as { Id: string }[]).map((c) => c.Id);
      assert.deepEqual(dirs.filter((d) => !known.includes(d)), []);
    });
  });
});
