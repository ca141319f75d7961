// The shim's durable records on a real filesystem: written whole through a temp, prepared temps committed in place.
import { readRecordedExit } from '@berth/shim-protocol';
import { tempDir } from '@berth/testing';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { commitRecord, prepareRecord, PREPARED_SIZE, writeRecord } from './records.ts';

const exit = { pid: 42, exit: { status: 3, exitCode: 3, signal: '', oomKilled: false, startedAt: 'a', exitedAt: 'b' } };

test('a prepared record is committed in place: readable JSON of the prepared size, no temp left', async () => {
  using dir = tempDir('berth-records-');
  const file = path.join(dir.path, 'exit.json');
  const tmp = await prepareRecord(file);
  assert.equal(statSync(tmp).size, PREPARED_SIZE);
  assert.ok(!existsSync(file), 'nothing is visible before the commit');
  commitRecord(file, exit, tmp);
  assert.deepEqual(readdirSync(dir.path), ['exit.json']);
  assert.equal(statSync(file).size, PREPARED_SIZE);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), exit);
  assert.deepEqual(readRecordedExit(dir.path), exit);
});

test('without a prepared temp, or for a record too large for it, the commit writes the record whole', async () => {
  using dir = tempDir('berth-records-');
  const file = path.join(dir.path, 'exit.json');
  commitRecord(file, exit, undefined);
  assert.equal(readFileSync(file, 'utf8'), `${JSON.stringify(exit)}\n`);

  const big = path.join(dir.path, 'big.json');
  const tmp = await prepareRecord(big);
  const value = { note: 'x'.repeat(PREPARED_SIZE) };
  commitRecord(big, value, tmp);
  assert.deepEqual(JSON.parse(readFileSync(big, 'utf8')), value);
  assert.equal(readFileSync(big, 'utf8'), `${JSON.stringify(value)}\n`);

  // a temp prepared for another file is not used for this one
  const other = await prepareRecord(path.join(dir.path, 'other.json'));
  writeRecord(path.join(dir.path, 'plain.json'), { a: 1 });
  commitRecord(path.join(dir.path, 'third.json'), { b: 2 }, other);
  assert.equal(readFileSync(path.join(dir.path, 'third.json'), 'utf8'), '{"b":2}\n');
  assert.ok(existsSync(other));
});
