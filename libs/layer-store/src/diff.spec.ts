import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { tempDir } from '@berth/testing';
import { digestOf } from '@berth/oci';
import { applyLayer, chainID, chainIDs, compressLayer, diffLayer, whiteoutTemplate } from './index.ts';
import { describeTree, tarOf, treeDiff } from './test-helpers.ts';

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const baseTar = tarOf([
  { name: 'etc/', mode: 0o755 },
  { name: 'etc/hosts', data: '127.0.0.1 localhost\n' },
  { name: 'etc/motd', data: 'hi\n' },
  { name: 'var/', mode: 0o755 },
  { name: 'var/cache/', mode: 0o755 },
  { name: 'var/cache/a', data: 'a' },
  { name: 'var/cache/b', data: 'b' },
  { name: 'usr/bin/tool', data: 'tool', mode: 0o755 },
]);

function mutate(root: string): void {
  appendFileSync(path.join(root, 'etc/hosts'), '10.0.0.1 db\n');
  rmSync(path.join(root, 'etc/motd'));
  rmSync(path.join(root, 'var/cache'), { recursive: true });
  mkdirSync(path.join(root, 'var/cache'));
  writeFileSync(path.join(root, 'var/cache/c'), 'c');
  writeFileSync(path.join(root, 'usr/bin/new'), 'new');
  execFileSync('ln', [path.join(root, 'usr/bin/new'), path.join(root, 'usr/bin/new2')]);
  chmodSync(path.join(root, 'usr/bin/tool'), 0o700);
}

describe('diffLayer', () => {
  it('reads an overlay upper dir as the layer (whiteouts, opaque dirs, hard links) deterministically', async () => {
    using dir = tempDir();
    const lower = path.join(dir.path, 'lower');
    const upper = path.join(dir.path, 'upper');
    const work = path.join(dir.path, 'work');
    const merged = path.join(dir.path, 'merged');
    await applyLayer(baseTar, lower);
    for (const d of [upper, work, merged]) mkdirSync(d);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
    try {
      mutate(merged);
    } finally {
      execFileSync('umount', [merged]);
    }
    const tar1 = await collect(diffLayer({ mode: 'overlay', upper }));
    const tar2 = await collect(diffLayer({ mode: 'overlay', upper }));
    assert.equal(digestOf(tar1), digestOf(tar2), 'same upper, same bytes');

    // Applying base + diff onto a plain tree gives what the container saw.
    const replay = path.join(dir.path, 'replay');
    await applyLayer(baseTar, replay);
    await applyLayer(tar1, replay);
    const expected = path.join(dir.path, 'expected');
    await applyLayer(baseTar, expected);
    mutate(expected);
    assert.deepEqual(treeDiff(describeTree(expected), describeTree(replay)), []);

    // And as an overlay upper again (whiteouts converted back).
    const upper2 = path.join(dir.path, 'upper2');
    await applyLayer(tar1, upper2, { whiteouts: 'overlay', lowerDirs: [lower], whiteoutTemplate: whiteoutTemplate(path.join(dir.path, 't')) });
    assert.equal(digestOf(await collect(diffLayer({ mode: 'overlay', upper: upper2 }))), digestOf(tar1));
  });

  it('compares two full trees (native snapshots) and compresses with both digests', async () => {
    using dir = tempDir();
    const lower = path.join(dir.path, 'lower');
    const upper = path.join(dir.path, 'upper');
    await applyLayer(baseTar, lower);
    execFileSync('cp', ['-a', lower, upper]);
    mutate(upper);
    const { stream, done } = compressLayer(diffLayer({ mode: 'trees', lower, upper }), 'gzip');
    const blob = await collect(stream);
    const res = await done;
    assert.equal(res.digest, digestOf(blob));
    const replay = path.join(dir.path, 'replay');
    await applyLayer(baseTar, replay);
    const applied = await applyLayer(blob, replay);
    assert.equal(applied.diffID, res.diffID);
    assert.deepEqual(treeDiff(describeTree(upper), describeTree(replay)), []);
    // Unchanged trees give an empty layer.
    const empty = await collect(diffLayer({ mode: 'trees', lower, upper: lower }));
    assert.equal(empty.length, 1024);
  });

  it('computes chainIDs as the image spec defines them', () => {
    const a = digestOf('a');
    const b = digestOf('b');
    const c = digestOf('c');
    assert.equal(chainID([a]), a);
    const ab = digestOf(`${a} ${b}`);
    assert.deepEqual(chainIDs([a, b, c]), [a, ab, digestOf(`${ab} ${c}`)]);
  });
});
