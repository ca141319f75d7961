// The protocol's codecs and helpers. The client against a real shim is tested in apps/shim.
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '@berth/errdefs';
import { tempDir } from '@berth/testing';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  checkSocketPath, encodeFrame, encodeStreamFrame, FrameDecoder, jsonFileUri, launchShim, MAX_FRAME, parseStdio,
  ShimClient, StreamDecoder,
} from './index.ts';

describe('framing', () => {
  test('frames survive any split into chunks', () => {
    const msgs = [{ t: 'req', id: 1, method: 'hello', params: { version: 1 } }, { t: 'evt', topic: 'oom', data: { id: 'é' } }];
    const wire = Buffer.concat(msgs.map(encodeFrame));
    for (const step of [1, 3, 7, wire.length]) {
      const d = new FrameDecoder();
      const out: unknown[] = [];
      for (let i = 0; i < wire.length; i += step) out.push(...d.push(wire.subarray(i, i + step)));
      assert.deepEqual(out, msgs);
    }
  });

  test('an oversized frame is refused', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_FRAME + 1);
    assert.throws(() => new FrameDecoder().push(head), InvalidArgumentError);
  });

  test('stream frames (attach) and bytes left after the last JSON frame', () => {
    const d = new FrameDecoder();
    const tail = encodeStreamFrame(1, Buffer.from('out'));
    assert.deepEqual(d.push(Buffer.concat([encodeFrame({ a: 1 }), tail])), [{ a: 1 }]);
    const rest = d.rest();
    const s = new StreamDecoder();
    const frames = [...s.push(rest.subarray(0, 5)), ...s.push(rest.subarray(5)), ...s.push(encodeStreamFrame(0, Buffer.alloc(0)))];
    assert.deepEqual(frames.map((f) => [f.stream, f.data.toString()]), [[1, 'out'], [0, '']]);
  });
});

describe('stdio targets', () => {
  test('paths, file:// and jsonfile:// with Docker log options', () => {
    assert.deepEqual(parseStdio(''), { kind: 'none' });
    assert.deepEqual(parseStdio(undefined), { kind: 'none' });
    assert.deepEqual(parseStdio('/run/x//fifo'), { kind: 'fifo', path: '/run/x/fifo' });
    assert.deepEqual(parseStdio('file:///var/log/a%20b.log'), { kind: 'file', path: '/var/log/a b.log' });
    assert.deepEqual(parseStdio('jsonfile:///l/c.log?max-size=10m&max-file=3'), { kind: 'jsonfile', path: '/l/c.log', maxSize: 10 * 2 ** 20, maxFile: 3 });
    assert.equal(jsonFileUri('/l/a b.log', { 'max-size': '1k' }), 'jsonfile:///l/a%20b.log?max-size=1k');
    assert.throws(() => parseStdio('relative/path'), /absolute path or a file:\/\/ or jsonfile:\/\/ URI/);
    assert.throws(() => parseStdio('jsonfile://host/x.log'), /three slashes/);
    assert.throws(() => parseStdio('http:///x'), /unsupported scheme http:/);
    assert.throws(() => parseStdio('jsonfile:///x.log?max-file=0'), /max-file/);
    assert.throws(() => jsonFileUri('/x.log', { 'max-size': 'huge' }), /invalid size/);
  });

  test('socket paths must fit sockaddr_un', () => {
    checkSocketPath('/run/berth/x.sock');
    assert.throws(() => checkSocketPath(`/run/${'x'.repeat(120)}.sock`), FailedPreconditionError);
    assert.throws(() => checkSocketPath('rel.sock'), /absolute/);
  });
});

describe('client and launcher failures', () => {
  test('connecting to nothing is Unavailable', async () => {
    using dir = tempDir();
    await assert.rejects(ShimClient.connect(path.join(dir.path, 'none.sock'), { timeoutMs: 500 }), UnavailableError);
  });

  test('a server that closes mid-call fails pending calls with Unavailable and emits close', async () => {
    using dir = tempDir();
    const sock = path.join(dir.path, 's.sock');
    const server = net.createServer((s) => {
      s.once('data', () => s.write(encodeFrame({ t: 'res', id: 1, result: { version: 1, pid: 1, id: '', namespace: '', spare: true, status: '' } })));
      s.on('data', () => s.destroy());
    });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const c = await ShimClient.connect(sock);
      assert.equal(c.info.spare, true);
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      await assert.rejects(c.wait(), UnavailableError);
      await closed;
      await assert.rejects(c.state(), UnavailableError);
    } finally {
      server.close();
    }
  });

  test('a shim that exits before it is ready fails the launch with its output', async () => {
    using dir = tempDir();
    const bin = path.join(dir.path, 'fake-shim.js');
    writeFileSync(bin, 'console.error("cannot do it"); process.exit(3);\n');
    await assert.rejects(
      launchShim({ binary: bin, socket: path.join(dir.path, 's.sock'), stateDir: path.join(dir.path, 'state') }),
      (err: Error) => err instanceof UnavailableError && /exited before it was ready: cannot do it/.test(err.message),
    );
    await assert.rejects(
      launchShim({ binary: path.join(dir.path, 'missing-binary'), socket: path.join(dir.path, 's2.sock'), stateDir: path.join(dir.path, 'state2') }),
      UnavailableError,
    );
  });
});
