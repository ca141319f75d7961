import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import {
  createDigester, digestAlgorithm, digestEncoded, digestOf, DigestMismatchError, digestStream, InvalidDigestError,
  isDigest, parseDigest, verifyDigest,
} from './index.ts';

describe('digests', () => {
  it('parses sha256 and sha512 and refuses the rest with go-digest messages', () => {
    const s256 = `sha256:${'0'.repeat(64)}`;
    const s512 = `sha512:${'f'.repeat(128)}`;
    assert.equal(parseDigest(s256), s256);
    assert.equal(digestAlgorithm(s512), 'sha512');
    assert.equal(digestEncoded(s256), '0'.repeat(64));
    const bad: [string, string][] = [
      ['sha256', 'invalid checksum digest format'],
      ['sha256:', 'invalid checksum digest format'],
      [':abc', 'invalid checksum digest format'],
      ['sha256:' + 'A'.repeat(64), 'invalid checksum digest format'],
      ['sha256:' + '0'.repeat(63), 'invalid checksum digest length'],
      ['md5:' + '0'.repeat(32), 'unsupported digest algorithm'],
      ['SHA256:' + '0'.repeat(64), 'invalid checksum digest format'],
    ];
    for (const [d, msg] of bad) {
      assert.throws(() => parseDigest(d), (e: unknown) => e instanceof InvalidDigestError && e.message === msg, d);
      assert.equal(isDigest(d), false);
    }
  });

  it('hashes incrementally and as a stream, and verifies', async () => {
    const data = Buffer.from('hello berth\n'.repeat(1000));
    const want = `sha256:${createHash('sha256').update(data).digest('hex')}` as const;
    assert.equal(digestOf(data), want);
    const d = createDigester();
    d.update(data.subarray(0, 7));
    d.update(data.subarray(7));
    assert.equal(d.size, data.length);
    assert.equal(d.digest(), want);
    assert.equal(digestOf('x', 'sha512'), `sha512:${createHash('sha512').update('x').digest('hex')}`);

    verifyDigest(data, want, data.length);
    assert.throws(() => verifyDigest(data, digestOf('other')), DigestMismatchError);
    assert.throws(() => verifyDigest(data, want, 3), /size mismatch/);

    const ok = digestStream({ expected: want, size: data.length });
    const chunks: Buffer[] = [];
    await pipeline(Readable.from([data.subarray(0, 100), data.subarray(100)]), ok, async function (src) {
      for await (const c of src) chunks.push(c as Buffer);
    });
    assert.equal(ok.digest(), want);
    assert.deepEqual(Buffer.concat(chunks), data);

    await assert.rejects(pipeline(Readable.from([data]), digestStream({ expected: digestOf('nope') }), async function (src) {
      for await (const _ of src) { /* drain */ }
    }), DigestMismatchError);
  });
});
