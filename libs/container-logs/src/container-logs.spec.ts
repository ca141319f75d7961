import { tempDir } from '@berth/testing';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  decodeEntry, encodeEntry, formatLogLine, formatRfc3339Nano, formatRfc3339NanoFixed, JsonFileWriter, LineSplitter,
  logFiles, MAX_LINE, nowNs, parseJsonFileOptions, parseRfc3339, parseSize, parseTimestamp, readLogs, type LogEntry,
} from './index.ts';

async function collect(it: AsyncIterable<LogEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(e.log.toString());
  return out;
}

const T0 = 1_700_000_000_000_000_000n;

describe('time', () => {
  test('formats RFC3339Nano as Go does and parses it back', () => {
    assert.equal(formatRfc3339Nano(T0), '2023-11-14T22:13:20Z');
    assert.equal(formatRfc3339Nano(T0 + 120_000_000n), '2023-11-14T22:13:20.12Z');
    assert.equal(formatRfc3339Nano(T0 + 1n), '2023-11-14T22:13:20.000000001Z');
    assert.equal(formatRfc3339NanoFixed(T0 + 120_000_000n), '2023-11-14T22:13:20.120000000Z');
    assert.equal(parseRfc3339('2023-11-14T22:13:20.000000001Z'), T0 + 1n);
    assert.equal(parseRfc3339('2023-11-15T00:13:20.5+02:00'), T0 + 500_000_000n);
    assert.throws(() => parseRfc3339('yesterday'), /invalid RFC 3339 time/);
  });

  test('parses the Engine API since/until forms', () => {
    assert.equal(parseTimestamp('1700000000'), T0);
    assert.equal(parseTimestamp('1700000000.25'), T0 + 250_000_000n);
    assert.equal(parseTimestamp('1700000000.000000001'), T0 + 1n);
    assert.equal(parseTimestamp('2023-11-14T22:13:20Z'), T0);
  });

  test('nowNs follows the wall clock and never goes back', () => {
    const a = nowNs();
    const b = nowNs();
    assert.ok(b > a);
    const wall = BigInt(Date.now()) * 1_000_000n;
    assert.ok(a > wall - 5_000_000n && a < wall + 5_000_000n);
  });
});

describe('options', () => {
  test('sizes and json-file options as Docker spells them', () => {
    assert.equal(parseSize('10m'), 10 * 1024 * 1024);
    assert.equal(parseSize('512k'), 512 * 1024);
    assert.equal(parseSize('1.5g'), 1.5 * 1024 ** 3);
    assert.equal(parseSize('100MiB'), 100 * 1024 * 1024);
    assert.equal(parseSize('2048'), 2048);
    assert.throws(() => parseSize('ten'), /invalid size/);
    assert.deepEqual(parseJsonFileOptions({ 'max-size': '1k', 'max-file': '3' }), { maxSize: 1024, maxFile: 3 });
    assert.deepEqual(parseJsonFileOptions({}), { maxSize: 0, maxFile: 1 });
    assert.deepEqual(parseJsonFileOptions({ labels: 'a', tag: '{{.Name}}' }), { maxSize: 0, maxFile: 1 });
    assert.throws(() => parseJsonFileOptions({ 'max-file': '0' }), /max-file/);
    assert.throws(() => parseJsonFileOptions({ 'max-size': '0' }), /positive/);
    assert.throws(() => parseJsonFileOptions({ colour: 'red' }), /unknown log opt 'colour'/);
  });
});

describe('entries', () => {
  test('encodes as Docker does (HTML-safe escapes) and decodes', () => {
    const line = encodeEntry('stderr', 'a <b> & "c"\n', '2023-11-14T22:13:20.5Z');
    assert.equal(line, '{"log":"a \\u003cb\\u003e \\u0026 \\"c\\"\\n","stream":"stderr","time":"2023-11-14T22:13:20.5Z"}\n');
    const e = decodeEntry(line.trimEnd());
    assert.equal(e.log.toString(), 'a <b> & "c"\n');
    assert.equal(e.stream, 'stderr');
    assert.equal(e.timeNs, T0 + 500_000_000n);
    assert.equal(formatLogLine(e, { timestamps: true }).toString(), '2023-11-14T22:13:20.500000000Z a <b> & "c"\n');
    assert.throws(() => decodeEntry('{"nope":1}'), /missing log or time/);
  });
});

describe('writer', () => {
  test('splits output into lines, cuts long lines, flushes partials', () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'c.log');
    const w = JsonFileWriter.open(file);
    const out = new LineSplitter('stdout', w);
    out.write(Buffer.from('one\ntw'), T0);
    out.write(Buffer.from('o\nthree'), T0 + 1n);
    assert.ok(out.hasPartial);
    out.flush(T0 + 2n);
    out.write(Buffer.from('x'.repeat(MAX_LINE + 10) + '\n'), T0 + 3n);
    w.close();
    const entries = readFileSync(file, 'utf8').trimEnd().split('\n').map(decodeEntry);
    assert.deepEqual(entries.map((e) => e.log.toString().length), [4, 4, 5, MAX_LINE, 11]);
    assert.deepEqual(entries.slice(0, 3).map((e) => e.log.toString()), ['one\n', 'two\n', 'three']);
    assert.equal(entries[1]!.timeNs, T0 + 1n);
    assert.equal(statSync(file).mode & 0o777, 0o640);
  });

  test('whole-chunk encoding matches entry by entry encoding (escapes, tabs, CR, non-ASCII)', () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'c.log');
    const w = JsonFileWriter.open(file);
    const out = new LineSplitter('stderr', w);
    const lines = ['plain\n', 'tab\there\r\n', 'q"uo\\te <b>&amp;\n', '\x01ctl\x1f\n', 'héllo wörld\n', '\n', 'bad \xff byte\n'];
    const time = '2023-11-14T22:13:20Z';
    out.write(Buffer.concat(lines.slice(0, 4).map((l) => Buffer.from(l))), T0);
    out.write(Buffer.from(lines.slice(4).join('')), T0);
    w.close();
    const expected = lines.map((l) => encodeEntry('stderr', Buffer.from(l).toString('utf8'), time)).join('');
    assert.equal(readFileSync(file, 'utf8'), expected);
  });

  test('rotates at max-size keeping max-file files, oldest dropped', () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'c.log');
    const w = JsonFileWriter.open(file, { maxSize: 200, maxFile: 3 });
    for (let i = 0; i < 40; i++) w.write('stdout', `line ${i}\n`, T0 + BigInt(i));
    w.close();
    assert.ok(existsSync(`${file}.1`) && existsSync(`${file}.2`) && !existsSync(`${file}.3`));
    for (const f of [file, `${file}.1`, `${file}.2`]) {
      // Docker checks the size before each write: a file exceeds max-size by at most one entry.
      assert.ok(statSync(f).size < 200 + 80, `${f} is ${statSync(f).size} bytes`);
    }
    const kept = [`${file}.2`, `${file}.1`, file].flatMap((f) => readFileSync(f, 'utf8').trimEnd().split('\n')).map((l) => decodeEntry(l).log.toString());
    assert.equal(kept.at(-1), 'line 39\n');
    const first = Number(/\d+/.exec(kept[0]!)![0]);
    assert.deepEqual(kept, Array.from({ length: 40 - first }, (_, i) => `line ${first + i}\n`));
  });

  test('max-file 1 truncates in place', () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'c.log');
    const w = JsonFileWriter.open(file, { maxSize: 100, maxFile: 1 });
    for (let i = 0; i < 10; i++) w.write('stdout', `line ${i}\n`, T0);
    w.close();
    assert.ok(!existsSync(`${file}.1`));
    assert.ok(statSync(file).size < 200);
    assert.match(readFileSync(file, 'utf8'), /line 9/);
  });
});

describe('reader', () => {
  function writeLines(file: string, n: number, opts: { maxSize?: number; maxFile?: number; from?: number } = {}): void {
    const w = JsonFileWriter.open(file, opts);
    const from = opts.from ?? 0;
    for (let i = from; i < from + n; i++) w.write(i % 2 ? 'stderr' : 'stdout', `line ${i}\n`, T0 + BigInt(i) * 1_000_000_000n);
    w.close();
  }

  test('reads all files oldest first, with tail, since and until', async () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'c.log');
    writeLines(file, 50, { maxSize: 300, maxFile: 10 });
    assert.ok((await logFiles(file)).length > 3);
    const all = await collect(readLogs(file));
    assert.deepEqual(all, Array.from({ length: 50 }, (_, i) => `line ${i}\n`));
    assert.deepEqual(await collect(readLogs(file, { tail: 3 })), ['line 47\n', 'line 48\n', 'line 49\n']);
    assert.deepEqual((await collect(readLogs(file, { tail: 12 }))).length, 12);
    assert.deepEqual(await collect(readLogs(file, { tail: 0 })), []);
    assert.equal((await collect(readLogs(file, { tail: 1000 }))).length, 50);
    const since = T0 + 45n * 1_000_000_000n;
    assert.deepEqual(await collect(readLogs(file, { since })), ['line 45\n', 'line 46\n', 'line 47\n', 'line 48\n', 'line 49\n']);
    const until = T0 + 2n * 1_000_000_000n;
    assert.deepEqual(await collect(readLogs(file, { until })), ['line 0\n', 'line 1\n', 'line 2\n']);
    const streams: string[] = [];
    for await (const e of readLogs(file, { tail: 2 })) streams.push(e.stream);
    assert.deepEqual(streams, ['stdout', 'stderr']);
  });

  test('skips corrupt lines and waits for a torn last line', async () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'c.log');
    writeLines(file, 2);
    appendFileSync(file, 'garbage\n{"log":"par');
    assert.deepEqual(await collect(readLogs(file)), ['line 0\n', 'line 1\n']);
  });

  test('onStart: with tail 0, an entry written once the start is fixed is read, none before', async () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'c.log');
    const w = JsonFileWriter.open(file);
    w.write('stdout', 'old\n');
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const got = await collect(readLogs(file, {
      follow: true, tail: 0, done, pollMs: 20,
      // what an attach's client types once it is attached, answered at once
      onStart: () => {
        w.write('stdout', 'answer\n');
        w.close();
        finish();
      },
    }));
    assert.deepEqual(got, ['answer\n']);
  });

  test('a missing file reads as empty', async () => {
    using dir = tempDir();
    assert.deepEqual(await collect(readLogs(path.join(dir.path, 'none.log'))), []);
  });

  test('follows new entries across rotation until done', async () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'c.log');
    const w = JsonFileWriter.open(file, { maxSize: 400, maxFile: 3 });
    w.write('stdout', 'before\n');
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of readLogs(file, { follow: true, tail: 1, done, pollMs: 50 })) got.push(e.log.toString());
    })();
    while (got.length === 0) await new Promise((r) => setTimeout(r, 5));
    // Slow enough for the follower to see each rotation, fast enough to rotate twice between some polls.
    for (let i = 0; i < 60; i++) {
      w.write('stdout', `line ${i}\n`);
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    w.write('stdout', 'last\n');
    w.close();
    finish();
    await reading;
    assert.equal(got[0], 'before\n');
    assert.equal(got.at(-1), 'last\n');
    // With max-file 3 a follower that falls two rotations behind can lose a file; it never reorders or repeats.
    const nums = got.slice(1, -1).map((l) => Number(/\d+/.exec(l)![0]));
    for (let i = 1; i < nums.length; i++) assert.ok(nums[i]! > nums[i - 1]!, `order: ${nums.join(',')}`);
    assert.ok(nums.length >= 40, `followed ${nums.length} of 60 lines`);
  });

  test('follows a file truncated in place (max-file 1) and stops on abort', async () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'c.log');
    const w = JsonFileWriter.open(file, { maxSize: 300, maxFile: 1 });
    const ac = new AbortController();
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of readLogs(file, { follow: true, signal: ac.signal, pollMs: 20 })) {
        got.push(e.log.toString());
        if (e.log.toString() === 'end\n') ac.abort();
      }
    })();
    for (let i = 0; i < 20; i++) {
      w.write('stdout', `l${i}\n`);
      await new Promise((r) => setTimeout(r, 15));
    }
    w.write('stdout', 'end\n');
    await reading;
    w.close();
    assert.equal(got.at(-1), 'end\n');
    // A follower that misses a truncation (two within one poll) loses those lines, as Docker's does; order holds.
    const nums = got.slice(0, -1).map((l) => Number(/\d+/.exec(l)![0]));
    for (let i = 1; i < nums.length; i++) assert.ok(nums[i]! > nums[i - 1]!, `order: ${nums.join(',')}`);
    assert.ok(got.length >= 5, `got ${got.length}`);
  });

  test('follow waits for a file that does not exist yet; rename detection with renamed files', async () => {
    using dir = tempDir();
    const file = path.join(dir.path, 'later.log');
    const ac = new AbortController();
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of readLogs(file, { follow: true, signal: ac.signal, pollMs: 20 })) {
        got.push(e.log.toString());
        if (got.length === 2) ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 60));
    writeFileSync(file, encodeEntry('stdout', 'a\n', formatRfc3339Nano(T0)));
    await new Promise((r) => setTimeout(r, 60));
    renameSync(file, `${file}.1`);
    writeFileSync(file, encodeEntry('stdout', 'b\n', formatRfc3339Nano(T0)));
    await reading;
    assert.deepEqual(got, ['a\n', 'b\n']);
  });
});
