// Unit: LayerFeed's two modes. Without `resume` a writer waits for the consumer; with it, the writer is never
// held up and what the feed did not take comes back from `resume(offset)`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { LayerFeed, SPILL_AFTER } from './layer-feed.ts';

const CHUNK = 64 << 10;

function chunksOf(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += CHUNK) out.push(buf.subarray(i, i + CHUNK));
  return out;
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A feed with `resume` whose resume gives nothing; `resumed()` tells whether it was called. */
function watchedFeed(): { feed: LayerFeed; resumed: () => boolean } {
  let called = false;
  const feed = new LayerFeed({
    resume: async () => {
      called = true;
      return Readable.from([]);
    },
  });
  return { feed, resumed: () => called };
}

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true, () => true), delay(ms).then(() => false)]);
}

describe('LayerFeed', () => {
  it('holds the writer up while nobody reads, without resume', async () => {
    const data = zlib.gzipSync(randomBytes(4 << 20), { level: 1 });
    const feed = new LayerFeed();
    const chunks = chunksOf(data);
    let i = 0;
    let blocked: Promise<void> | undefined;
    for (; i < chunks.length; i++) {
      const w = feed.write(chunks[i]!);
      if (!(await settlesWithin(w, 50))) {
        blocked = w;
        break;
      }
    }
    assert.ok(blocked, 'a write waits for the consumer');
    assert.ok(i < chunks.length - 1);
    const out = readAll(feed.output);
    await blocked;
    for (i++; i < chunks.length; i++) await feed.write(chunks[i]!);
    feed.end();
    assert.ok((await out).equals(zlib.gunzipSync(data)));
  });

  it('never holds the writer up with resume, and reads what it spilled from the offset it stopped at', async () => {
    const plain = randomBytes(SPILL_AFTER + (6 << 20));
    const data = zlib.gzipSync(plain, { level: 1 });
    const offsets: number[] = [];
    const feed = new LayerFeed({
      resume: async (offset) => {
        offsets.push(offset);
        return Readable.from(chunksOf(data.subarray(offset)));
      },
    });
    // Nobody reads while every chunk is written: each write must still settle at once.
    for (const c of chunksOf(data)) assert.ok(await settlesWithin(feed.write(c), 50), 'a write settles without a reader');
    feed.end();
    assert.deepEqual(offsets, [], 'resume waits until what the feed holds is consumed');
    const out = await readAll(feed.output);
    assert.ok(out.equals(plain), 'the output is the whole layer, in order');
    assert.equal(offsets.length, 1);
    assert.ok(offsets[0]! > 0 && offsets[0]! < data.length, `spilled at ${offsets[0]} of ${data.length}`);
    assert.ok(offsets[0]! <= SPILL_AFTER + (1 << 20), 'holds at most about SPILL_AFTER in memory');
  });

  it('hands the bytes on as they came when its consumer decompresses', async () => {
    const data = zlib.gzipSync(randomBytes(SPILL_AFTER + (2 << 20)), { level: 1 });
    const feed = new LayerFeed({ decompress: false, resume: async (offset) => Readable.from(chunksOf(data.subarray(offset))) });
    for (const c of chunksOf(data)) await feed.write(c);
    feed.end();
    assert.ok((await readAll(feed.output)).equals(data));
  });

  it('keeps everything in memory below the spill limit', async () => {
    const plain = randomBytes(2 << 20);
    const data = zlib.gzipSync(plain, { level: 1 });
    const { feed, resumed } = watchedFeed();
    for (const c of chunksOf(data)) await feed.write(c);
    feed.end();
    assert.ok((await readAll(feed.output)).equals(plain));
    assert.equal(resumed(), false);
  });

  it('fails the output when the spilled rest cannot be read', async () => {
    const data = zlib.gzipSync(randomBytes(SPILL_AFTER + (4 << 20)), { level: 1 });
    const feed = new LayerFeed({
      resume: async () => {
        throw new Error('blob gone');
      },
    });
    for (const c of chunksOf(data)) await feed.write(c);
    feed.end();
    await assert.rejects(readAll(feed.output), /blob gone/);
  });

  it('does not read the spilled rest for a consumer that went away', async () => {
    const data = zlib.gzipSync(randomBytes(SPILL_AFTER + (4 << 20)), { level: 1 });
    const { feed, resumed } = watchedFeed();
    for (const c of chunksOf(data)) await feed.write(c);
    feed.output.destroy();
    feed.end();
    await delay(50);
    assert.equal(resumed(), false);
  });
});
