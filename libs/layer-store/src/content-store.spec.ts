import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { tempDir } from '@berth/testing';
import { isAlreadyExists, isFailedPrecondition, isNotFound, isUnavailable } from '@berth/errdefs';
import { digestOf } from '@berth/oci';
import { LocalContentStore, readBlob, writeBlob } from './index.ts';

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('LocalContentStore', () => {
  it('ingests, verifies and commits atomically; reads back by digest, range and offset', async () => {
    using dir = tempDir();
    const store = await LocalContentStore.open(dir.path);
    const data = Buffer.from('x'.repeat(3_000_000) + 'tail');
    const digest = digestOf(data);
    const w = await store.writer({ ref: 'layer-1', expected: digest, total: data.length });
    await w.write(data.subarray(0, 1000));
    assert.equal(w.status().offset, 1000);
    assert.equal((await store.status('layer-1')).offset, 1000);
    await w.write(data.subarray(1000));
    assert.equal(w.digest(), digest);
    const info = await w.commit({ size: data.length, expected: digest, labels: { a: '1' } });
    assert.equal(info.size, data.length);
    assert.deepEqual(info.labels, { a: '1' });
    assert.equal(statSync(store.blobPath(digest)).mode & 0o777, 0o444);
    await assert.rejects(store.status('layer-1'), (e) => isNotFound(e));
    assert.deepEqual(await collect(store.read(digest)), data);
    assert.equal((await collect(store.read(digest, { offset: data.length - 4 }))).toString(), 'tail');
    assert.equal((await collect(store.read(digest, { offset: 1, length: 2 }))).toString(), 'xx');
    const r = await store.readerAt(digest);
    assert.equal(r.size, data.length);
    assert.equal((await r.read(data.length - 2, 100)).toString(), 'il');
    await r.close();
    await assert.rejects(collect(store.read(digestOf('missing'))), (e) => isNotFound(e));
  });

  it('refuses a commit whose size or digest is wrong and keeps the ingest', async () => {
    using dir = tempDir();
    const store = await LocalContentStore.open(dir.path);
    const w = await store.writer({ ref: 'r', expected: digestOf('hello') });
    await w.write(Buffer.from('hellO'));
    await assert.rejects(w.commit(), (e) => isFailedPrecondition(e) && /unexpected commit digest/.test((e as Error).message));
    const w2 = await store.writer({ ref: 'r2' });
    await w2.write(Buffer.from('abc'));
    await assert.rejects(w2.commit({ size: 4 }), (e) => isFailedPrecondition(e) && /unexpected commit size 3, expected 4/.test((e as Error).message));
    const statuses = await store.listStatuses();
    assert.deepEqual(statuses.map((s) => [s.ref, s.offset]).sort(), [['r', 5], ['r2', 3]]);
    assert.deepEqual(await store.listStatuses((s) => s.ref === 'r2').then((l) => l.length), 1);
    await store.abort('r');
    await assert.rejects(store.abort('r'), (e) => isNotFound(e));
    let n = 0;
    await store.walk(() => {
      n++;
    });
    assert.equal(n, 0);
  });

  it('resumes an interrupted ingest, also after a restart', async () => {
    using dir = tempDir();
    const data = Buffer.from('0123456789'.repeat(1000));
    const digest = digestOf(data);
    {
      const store = await LocalContentStore.open(dir.path);
      const w = await store.writer({ ref: 'resume', expected: digest, total: data.length });
      await w.write(data.subarray(0, 4321));
      // no close: the process "dies"
    }
    const store = await LocalContentStore.open(dir.path);
    const w = await store.writer({ ref: 'resume', expected: digest, total: data.length });
    assert.equal(w.status().offset, 4321);
    await assert.rejects(store.writer({ ref: 'resume' }), (e) => isUnavailable(e));
    await w.write(data.subarray(4321));
    await w.commit();
    assert.deepEqual(await readBlob(store, digest), data);
    await assert.rejects(store.writer({ ref: 'again', expected: digest }), (e) => isAlreadyExists(e));

    // writeBlob resumes from the offset through a source that can seek.
    const d2 = Buffer.from('abcdefghij'.repeat(500));
    const w2 = await store.writer({ ref: 'seek', expected: digestOf(d2) });
    await w2.write(d2.subarray(0, 1234));
    await w2.close();
    const offsets: number[] = [];
    await writeBlob(store, 'seek', (off) => {
      offsets.push(off);
      return Readable.from([d2.subarray(off)]);
    }, { digest: digestOf(d2), size: d2.length });
    assert.deepEqual(offsets, [1234]);
    assert.deepEqual(await readBlob(store, digestOf(d2)), d2);
  });

  it('deduplicates concurrent ingests of one blob', async () => {
    using dir = tempDir();
    const store = await LocalContentStore.open(dir.path);
    const data = Buffer.alloc(2_000_000, 7);
    const desc = { digest: digestOf(data), size: data.length };
    let reads = 0;
    const slow = () => Readable.from((async function* () {
      reads++;
      for (let i = 0; i < data.length; i += 100_000) {
        await new Promise((r) => setTimeout(r, 2));
        yield data.subarray(i, i + 100_000);
      }
    })());
    const results = await Promise.all(Array.from({ length: 5 }, () => writeBlob(store, `layer-${desc.digest}`, () => slow(), desc)));
    assert.equal(reads, 1, 'one download for five concurrent pulls');
    for (const r of results) assert.equal(r.digest, desc.digest);
    // Different refs for the same digest: both succeed, one blob.
    await Promise.all([writeBlob(store, 'a', Buffer.from('same'), { digest: digestOf('same') }),
      writeBlob(store, 'b', Buffer.from('same'), { digest: digestOf('same') })]);
    const all: string[] = [];
    await store.walk((i) => {
      all.push(i.digest);
    });
    assert.deepEqual(all.sort(), [desc.digest, digestOf('same')].sort());
  });

  it('updates labels with containerd field paths, walks with a filter, deletes', async () => {
    using dir = tempDir();
    const store = await LocalContentStore.open(dir.path);
    const a = await writeBlob(store, 'a', Buffer.from('a'), { digest: digestOf('a') }, { labels: { keep: 'x', drop: 'y' } });
    await writeBlob(store, 'b', Buffer.from('b'), { digest: digestOf('b') });
    let info = await store.update({ digest: a.digest, labels: { drop: '', added: 'z' } }, ['labels.drop', 'labels.added']);
    assert.deepEqual(info.labels, { keep: 'x', added: 'z' });
    info = await store.update({ digest: a.digest, labels: { only: '1' } });
    assert.deepEqual(info.labels, { only: '1' });
    assert.ok(info.updatedAt.getTime() >= info.createdAt.getTime());
    await assert.rejects(store.update({ digest: a.digest, labels: {} }, ['size']), /cannot update "size" field/);
    await assert.rejects(store.update({ digest: a.digest, labels: { k: 'v'.repeat(5000) } }), /greater than maximum size/);
    const labeled: string[] = [];
    await store.walk((i) => {
      labeled.push(i.digest);
    }, (i) => 'only' in i.labels);
    assert.deepEqual(labeled, [a.digest]);
    await store.delete(a.digest);
    await assert.rejects(store.info(a.digest), (e) => isNotFound(e));
    await assert.rejects(store.delete(a.digest), (e) => isNotFound(e));
    assert.equal(readFileSync(store.blobPath(digestOf('b'))).toString(), 'b');
  });
});
