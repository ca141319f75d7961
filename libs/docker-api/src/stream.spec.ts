import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Demuxer, StreamSystemError, demuxStream, jsonLines, muxFrame } from './stream.ts';

test('Demuxer reassembles frames split across chunks', () => {
  const wire = Buffer.concat([muxFrame(1, Buffer.from('hello ')), muxFrame(2, Buffer.from('oops')), muxFrame(1, Buffer.from('world'))]);
  const d = new Demuxer();
  const frames = [];
  for (let i = 0; i < wire.length; i += 3) frames.push(...d.push(wire.subarray(i, i + 3)));
  assert.deepEqual(frames.map((f) => [f.stream, f.payload.toString()]), [[1, 'hello '], [2, 'oops'], [1, 'world']]);
  assert.equal(d.remainder, 0);
});

test('demuxStream routes stdout and stderr, and fails on a system-error frame', async () => {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: string[] = [];
  const errs: string[] = [];
  out.on('data', (d: Buffer) => chunks.push(d.toString()));
  err.on('data', (d: Buffer) => errs.push(d.toString()));
  await demuxStream([muxFrame(1, Buffer.from('a')), muxFrame(2, Buffer.from('b'))], out, err);
  assert.deepEqual([chunks.join(''), errs.join('')], ['a', 'b']);
  await assert.rejects(demuxStream([muxFrame(3, Buffer.from('boom\n'))], out, err), (e: unknown) => e instanceof StreamSystemError && e.message === 'boom');
});

test('jsonLines splits on newlines across chunk boundaries and tolerates concatenated JSON', async () => {
  const got: unknown[] = [];
  for await (const v of jsonLines(['{"a":1}\r\n{"b"', ':2}\n', '\n{"c":"é"}'])) got.push(v);
  assert.deepEqual(got, [{ a: 1 }, { b: 2 }, { c: 'é' }]);
  const tail: unknown[] = [];
  for await (const v of jsonLines(['{"x":1}{"y":[1,"}"]}'])) tail.push(v);
  assert.deepEqual(tail, [{ x: 1 }, { y: [1, '}'] }]);
});
