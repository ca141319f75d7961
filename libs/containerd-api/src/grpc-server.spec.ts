// The server's wire behaviour as a stock gRPC client (@grpc/grpc-js) sees it: statuses (trailers-only and after
// messages), deadlines, cancellation reaching the handler, bidi with back-pressure, refusals.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { NotFoundError } from '@berth/errdefs';
import { tempDir } from '@berth/testing';
import { addService, bidi, createServer, serverStream, serviceDefinition, unary, type GrpcServer } from './index.ts';
import { encodeHeaders, HpackDecoder } from './h2/hpack.ts';

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

async function withServer(fn: (sock: string, server: GrpcServer, cancelled: string[]) => Promise<void>): Promise<void> {
  using dir = tempDir();
  const sock = path.join(dir.path, 'g.sock');
  const server = createServer();
  const cancelled: string[] = [];
  addService(server, 'containerd.services.content.v1.Content', {
    Info: unary(async (req: { digest: string }, ctx) => {
      if (req.digest === 'slow') {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => {
          cancelled.push('info');
          resolve();
        }));
      }
      if (req.digest === 'é') throw new NotFoundError('content é: not found');
      return { info: { digest: req.digest, size: 7, labels: { ns: ctx.namespace() } } };
    }),
    Read: serverStream(async (req: { digest: string; size: number }, _ctx, send) => {
      try {
        for (let i = 0; i < req.size; i++) await send({ offset: i, data: Buffer.alloc(64 * 1024, i) });
      } catch (err) {
        cancelled.push(`read: ${(err as { code?: string }).code}`);
        throw err;
      }
      if (req.digest === 'fail-after') throw new NotFoundError('gone midway');
    }),
    Write: bidi(async (call: Any) => {
      let n = 0;
      for await (const m of call.messages() as AsyncIterable<{ ref: string; data: Buffer }>) {
        n += m.data.length;
        await call.send({ action: 'WRITE', offset: n, total: 0, digest: m.ref });
      }
    }),
  });
  await server.listen(sock);
  try {
    await fn(sock, server, cancelled);
  } finally {
    await server.shutdown(500);
  }
}

function client(sock: string): Any {
  const Ctor = grpc.makeGenericClientConstructor(serviceDefinition('containerd.services.content.v1.Content'), 'Content');
  return new Ctor(`unix://${sock}`, grpc.credentials.createInsecure());
}

const md = () => {
  const m = new grpc.Metadata();
  m.set('containerd-namespace', 'n1');
  return m;
};

describe('GrpcServer (as a grpc-js client sees it)', () => {
  it('answers unary calls, and errors trailers-only with the message percent-encoded and decoded back', async () => {
    await withServer(async (sock) => {
      const c = client(sock);
      const ok = await new Promise<Any>((resolve, reject) => c.Info({ digest: 'd' }, md(), (e: Error, r: Any) => (e ? reject(e) : resolve(r))));
      assert.deepEqual({ digest: ok.info.digest, size: Number(ok.info.size), labels: ok.info.labels }, { digest: 'd', size: 7, labels: { ns: 'n1' } });
      const err = await new Promise<Any>((resolve) => c.Info({ digest: 'é' }, md(), (e: Any) => resolve(e)));
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.equal(err.details, 'content é: not found');
      const noNs = await new Promise<Any>((resolve) => c.Info({ digest: 'd' }, new grpc.Metadata(), (e: Any) => resolve(e)));
      assert.equal(noNs.code, grpc.status.FAILED_PRECONDITION);
      const unknown = await new Promise<Any>((resolve) => c.Abort({ ref: 'r' }, md(), (e: Any) => resolve(e)));
      assert.equal(unknown.code, grpc.status.UNIMPLEMENTED);
      c.close();
    });
  });

  it('streams many messages, and sends an error status after messages already sent', async () => {
    await withServer(async (sock) => {
      const c = client(sock);
      const read = (digest: string, size: number) => new Promise<{ n: number; err?: Any }>((resolve) => {
        let n = 0;
        const s = c.Read({ digest, size }, md());
        s.on('data', () => n++);
        s.on('error', (err: Any) => resolve({ n, err }));
        s.on('end', () => resolve({ n }));
      });
      assert.deepEqual(await read('x', 200), { n: 200 }); // 12.5 MB: past every flow-control window
      const r = await read('fail-after', 3);
      assert.equal(r.n, 3);
      assert.equal(r.err.code, grpc.status.NOT_FOUND);
      assert.equal(r.err.details, 'gone midway');
      c.close();
    });
  });

  it('stops a stream\'s handler when its client cancels, and goes on serving', async () => {
    await withServer(async (sock, _server, cancelled) => {
      const c = client(sock);
      const s = c.Read({ digest: 'x', size: 100_000 }, md());
      await new Promise<void>((resolve) => s.once('data', () => resolve()));
      s.cancel();
      s.on('error', () => {});
      for (let i = 0; i < 100 && cancelled.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(cancelled, ['read: ABORT_ERR']);
      const ok = await new Promise<Any>((resolve, reject) => c.Info({ digest: 'd' }, md(), (e: Error, r: Any) => (e ? reject(e) : resolve(r))));
      assert.equal(ok.info.digest, 'd');
      c.close();
    });
  });

  it('passes bidi messages through in order with back-pressure', async () => {
    await withServer(async (sock) => {
      const c = client(sock);
      const s = c.Write(md());
      const offsets: number[] = [];
      const done = new Promise<void>((resolve, reject) => {
        s.on('data', (m: Any) => offsets.push(Number(m.offset)));
        s.on('end', resolve);
        s.on('error', reject);
      });
      for (let i = 0; i < 50; i++) s.write({ ref: 'r', data: Buffer.alloc(256 * 1024, 1) });
      s.end();
      await done;
      assert.equal(offsets.length, 50);
      assert.equal(offsets.at(-1), 50 * 256 * 1024);
      c.close();
    });
  });

  it('aborts a handler\'s signal when the client cancels or its deadline passes', async () => {
    await withServer(async (sock, _server, cancelled) => {
      const c = client(sock);
      const deadline = new Date(Date.now() + 200);
      const err = await new Promise<Any>((resolve) => c.Info({ digest: 'slow' }, md(), { deadline }, (e: Any) => resolve(e)));
      assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
      const call = c.Info({ digest: 'slow' }, md(), () => {});
      await new Promise((r) => setTimeout(r, 100));
      call.cancel();
      for (let i = 0; i < 50 && cancelled.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(cancelled, ['info', 'info']);
      c.close();
    });
  });

  it('refuses compressed messages and requests that are not gRPC', async () => {
    await withServer(async (sock) => {
      const session = http2.connect('http://localhost', { createConnection: () => net.connect(sock) });
      type Answer = { status: number; grpc?: string };
      const call = (headers: http2.OutgoingHttpHeaders, body: Buffer) => new Promise<Answer>((resolve, reject) => {
        const req = session.request(headers);
        let status = 0;
        let grpcStatus: string | undefined;
        req.on('response', (h) => {
          status = Number(h[':status']);
          if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
        });
        req.on('trailers', (t) => {
          grpcStatus = String(t['grpc-status']);
        });
        req.on('end', () => resolve({ status, ...(grpcStatus === undefined ? {} : { grpc: grpcStatus }) }));
        req.on('error', reject);
        req.resume();
        req.end(body);
      });
      const frame = (flag: number) => Buffer.from([flag, 0, 0, 0, 0]); // an empty message
      const path = '/containerd.services.content.v1.Content/Info';
      const base = { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', 'containerd-namespace': 'n1' };
      assert.deepEqual(await call(base, frame(0)), { status: 200, grpc: '0' });
      assert.deepEqual(await call(base, frame(1)), { status: 200, grpc: String(grpc.status.UNIMPLEMENTED) });
      assert.deepEqual(await call({ ...base, 'content-type': 'text/plain' }, frame(0)), { status: 415 });
      session.close();
    });
  });
});

interface RawFrame { type: number; flags: number; stream: number; payload: Buffer }

/** Frames read off a raw connection: type, flags, stream and payload of each, until the socket ends or `until` holds. */
function readFrames(sock: net.Socket, until: (f: RawFrame) => boolean) {
  return new Promise<{ frames: RawFrame[]; ended: boolean }>((resolve) => {
    const frames: RawFrame[] = [];
    let buf = Buffer.alloc(0);
    const finish = (ended: boolean) => {
      sock.removeAllListeners('data');
      resolve({ frames, ended });
    };
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const len = buf.readUIntBE(0, 3);
        const f = { type: buf[3]!, flags: buf[4]!, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) };
        buf = buf.subarray(9 + len);
        frames.push(f);
        if (until(f)) return finish(false);
      }
    });
    sock.once('close', () => finish(true));
  });
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const rawFrame = (type: number, flags: number, stream: number, payload: Buffer) => {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
};

describe('GrpcServer\'s HTTP/2 (raw frames and node:http2\'s client)', () => {
  const info = (c: Any, digest: string) => new Promise<Any>((resolve, reject) => {
    c.Info({ digest }, md(), (e: Error, r: Any) => (e ? reject(e) : resolve(r)));
  });

  it('answers PING and SETTINGS, and ends a connection that is not HTTP/2 with GOAWAY (PROTOCOL_ERROR)', async () => {
    await withServer(async (sock) => {
      const a = net.connect(sock);
      const ping = Buffer.from('berthpng');
      a.write(Buffer.concat([PREFACE, rawFrame(4, 0, 0, Buffer.alloc(0)), rawFrame(6, 0, 0, ping)]));
      const got = await readFrames(a, (f) => f.type === 6);
      const settings = got.frames.filter((f) => f.type === 4);
      assert.ok(settings.some((f) => f.flags === 0), 'the server\'s SETTINGS');
      assert.ok(settings.some((f) => f.flags === 1 && f.payload.length === 0), 'an ack of ours');
      const pong = got.frames.at(-1)!;
      assert.deepEqual([pong.flags, pong.stream, pong.payload.toString()], [1, 0, 'berthpng']);
      a.destroy();

      const b = net.connect(sock);
      b.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const refused = await readFrames(b, () => false);
      assert.equal(refused.ended, true, 'the server closes the connection');
      const goaway = refused.frames.find((f) => f.type === 7);
      assert.ok(goaway, 'a GOAWAY frame');
      assert.equal(goaway.payload.readUInt32BE(4), 1); // PROTOCOL_ERROR
      const c = client(sock);
      assert.equal((await info(c, 'after')).info.digest, 'after', 'the server goes on serving');
      c.close();
    });
  });

  it('answers a call before its request has ended, resets it with NO_ERROR and ignores what the client still sends', async () => {
    await withServer(async (sock) => {
      const a = net.connect(sock);
      const headers = encodeHeaders([
        [':method', 'POST'], [':scheme', 'http'], [':path', '/no.Such/Method'], [':authority', 'x'], ['content-type', 'application/grpc'],
      ]);
      a.write(Buffer.concat([PREFACE, rawFrame(4, 0, 0, Buffer.alloc(0)), rawFrame(1, 0x4, 1, headers)])); // no END_STREAM
      const answered = await readFrames(a, (f) => f.type === 3);
      const reply = answered.frames.find((f) => f.type === 1 && f.stream === 1)!;
      assert.equal(reply.flags & 0x1, 0x1, 'trailers-only: the HEADERS end the stream');
      assert.ok(new HpackDecoder().decode(reply.payload).some(([n, v]) => n === 'grpc-status' && v === String(grpc.status.UNIMPLEMENTED)));
      assert.equal(answered.frames.at(-1)!.payload.readUInt32BE(0), 0, 'RST_STREAM NO_ERROR');
      // The rest of the request, and trailers, on the closed stream: ignored; the connection still answers.
      const ping = Buffer.from('stillup!');
      a.write(Buffer.concat([rawFrame(0, 0, 1, Buffer.from([0, 0, 0, 0, 0])), rawFrame(1, 0x5, 1, encodeHeaders([['x', 'y']])), rawFrame(6, 0, 0, ping)]));
      const after = await readFrames(a, (f) => f.type === 6);
      assert.equal(after.ended, false);
      assert.deepEqual([after.frames.at(-1)!.flags, after.frames.at(-1)!.payload.toString()], [1, 'stillup!']);
      assert.equal(after.frames.some((f) => f.type === 7), false, 'no GOAWAY');
      a.destroy();
    });
  });

  it('sends no more DATA than the client\'s windows allow, and the rest once they open', async () => {
    await withServer(async (sock) => {
      const a = net.connect(sock);
      const frames: RawFrame[] = [];
      const collecting = readFrames(a, (f) => {
        frames.push(f);
        return f.type === 1 && (f.flags & 0x1) === 0x1; // the trailers
      });
      const windowOf16 = Buffer.from([0, 4, 0, 0, 0, 16]); // SETTINGS_INITIAL_WINDOW_SIZE = 16
      const headers = encodeHeaders([
        [':method', 'POST'], [':scheme', 'http'], [':path', '/containerd.services.content.v1.Content/Read'], [':authority', 'x'],
        ['content-type', 'application/grpc'], ['containerd-namespace', 'n1'],
      ]);
      const req = serviceDefinition('containerd.services.content.v1.Content').Read!.requestSerialize({ digest: 'x', size: 1 });
      const msg = Buffer.concat([Buffer.from([0, 0, 0, 0, req.length]), req]);
      a.write(Buffer.concat([PREFACE, rawFrame(4, 0, 0, windowOf16), rawFrame(1, 0x4, 1, headers), rawFrame(0, 0x1, 1, msg)]));
      const dataBytes = () => frames.filter((f) => f.type === 0).reduce((n, f) => n + f.payload.length, 0);
      for (let i = 0; i < 100 && dataBytes() === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(dataBytes(), 16, 'no more than the stream\'s window of 16 bytes');
      // Open the stream's window and the connection's (65,535 by default, less than the 64 KiB message + framing).
      const inc = Buffer.alloc(4);
      inc.writeUInt32BE(1 << 20);
      a.write(Buffer.concat([rawFrame(8, 0, 1, inc), rawFrame(8, 0, 0, inc)]));
      const done = await collecting;
      assert.equal(done.ended, false);
      assert.ok(dataBytes() > 5 + 64 * 1024, `the whole message (${dataBytes()} bytes) once the windows opened`);
      assert.ok(new HpackDecoder().decode(frames.at(-1)!.payload).some(([n, v]) => n === 'grpc-status' && v === '0'));
      a.destroy();
    });
  });

  it('takes header blocks split over CONTINUATION frames, and many calls at once on one connection', async () => {
    await withServer(async (sock) => {
      const session = http2.connect('http://localhost', { createConnection: () => net.connect(sock) });
      const answer = await new Promise<{ status: string; grpc: string }>((resolve, reject) => {
        const req = session.request({
          ':method': 'POST', ':path': '/containerd.services.content.v1.Content/Info', 'content-type': 'application/grpc',
          'containerd-namespace': 'n1', 'x-large': 'v'.repeat(40_000), // > 16 KiB: HEADERS + CONTINUATION
        });
        let status = '';
        req.on('response', (h) => (status = String(h[':status'])));
        req.on('trailers', (t) => resolve({ status, grpc: String(t['grpc-status']) }));
        req.on('error', reject);
        req.resume();
        req.end(Buffer.from([0, 0, 0, 0, 0]));
      });
      assert.deepEqual(answer, { status: '200', grpc: '0' });
      session.close();
      const c = client(sock);
      const digests = Array.from({ length: 200 }, (_, i) => `d${i}`);
      const got = await Promise.all(digests.map((d) => info(c, d)));
      assert.deepEqual(got.map((r) => r.info.digest), digests);
      c.close();
    });
  });

  it('lets a call in flight finish on shutdown (GOAWAY) and takes no new connection', async () => {
    await withServer(async (sock, server) => {
      const c = client(sock);
      let n = 0;
      const read = new Promise<Any>((resolve) => {
        const s = c.Read({ digest: 'x', size: 60 }, md());
        s.on('data', () => n++);
        s.on('error', (err: Any) => resolve(err));
        s.on('end', () => resolve(undefined));
      });
      await new Promise((r) => setTimeout(r, 20));
      await server.shutdown(5_000);
      assert.equal(await read, undefined);
      assert.equal(n, 60);
      const refused = await new Promise<string>((resolve) => {
        const s = net.connect(sock);
        s.on('connect', () => resolve('connected'));
        s.on('error', (err: Any) => resolve(String(err.code)));
      });
      assert.match(refused, /ENOENT|ECONNREFUSED/);
      c.close();
    });
  });
});
