import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { TarWriter, readTar, type TarEntry } from './tar.ts';

async function collect(w: TarWriter): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of w.stream()) parts.push(c);
  return Buffer.concat(parts);
}

const base = { mode: 0o644, uid: 0, gid: 0, mtime: new Date('2024-01-02T03:04:05Z'), size: 0 };

test('written archives are read back by GNU tar, long names included', async () => {
  const long = `${'d'.repeat(80)}/${'f'.repeat(90)}.txt`;
  const w = new TarWriter();
  w.entry({ ...base, name: 'dir', type: 'directory', mode: 0o755 });
  w.entry({ ...base, name: 'dir/hello.txt', type: 'file', size: 6 }, async function* () {
    yield Buffer.from('hello\n');
  });
  w.entry({ ...base, name: 'dir/link', type: 'symlink', linkname: 'hello.txt' });
  w.entry({ ...base, name: long, type: 'file', size: 2 }, async function* () {
    yield Buffer.from('x\n');
  });
  const tar = await collect(w);
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-tar-'));
  try {
    writeFileSync(path.join(dir, 'a.tar'), tar);
    const list = spawnSync('tar', ['-tvf', path.join(dir, 'a.tar')], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /dir\/hello\.txt/);
    assert.match(list.stdout, /dir\/link -> hello\.txt/);
    assert.ok(list.stdout.includes(long));
    const x = spawnSync('tar', ['-xf', path.join(dir, 'a.tar'), '-C', dir]);
    assert.equal(x.status, 0);
    assert.equal(readFileSync(path.join(dir, long), 'utf8'), 'x\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('archives from GNU tar (PAX and GNU long names) are read', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-tar-'));
  try {
    const long = 'n'.repeat(150);
    writeFileSync(path.join(dir, long), 'payload');
    for (const format of ['pax', 'gnu']) {
      const r = spawnSync('tar', [`--format=${format}`, '-cf', '-', '-C', dir, long]);
      assert.equal(r.status, 0);
      const seen: Array<[TarEntry, string]> = [];
      await readTar([r.stdout], (e, body) => {
        seen.push([e, body.toString()]);
      });
      assert.equal(seen.length, 1, format);
      assert.equal(seen[0]![0].name, long);
      assert.equal(seen[0]![1], 'payload');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
