import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamError, displayProgress, progressString } from './progress.ts';

const pull = [
  { status: 'Pulling from library/busybox', id: 'latest' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'aaa' },
  { status: 'Downloading', progressDetail: { current: 1000, total: 4000 }, progress: '[==>   ]', id: 'aaa' },
  { status: 'Download complete', progressDetail: {}, id: 'aaa' },
  { status: 'Pull complete', progressDetail: {}, id: 'aaa' },
  { status: 'Digest: sha256:abc' },
  { status: 'Status: Downloaded newer image for busybox:latest' },
].map((m) => `${JSON.stringify(m)}\r\n`);

function sink(isTTY: boolean) {
  let text = '';
  const write = (s: string) => {
    text += s;
    return true;
  };
  return { out: { isTTY, columns: 120, write } as never, text: () => text };
}

test('plain output skips in-flight progress lines', async () => {
  const s = sink(false);
  await displayProgress(pull as never, { out: s.out });
  assert.equal(s.text(), [
    'latest: Pulling from library/busybox', 'aaa: Pulling fs layer', 'aaa: Download complete', 'aaa: Pull complete',
    'Digest: sha256:abc', 'Status: Downloaded newer image for busybox:latest', '',
  ].join('\n'));
});

test('terminal output rewrites each layer\'s line in place with a bar', async () => {
  const s = sink(true);
  await displayProgress(pull as never, { out: s.out });
  const t = s.text();
  assert.match(t, /aaa: Downloading \[============>\s+\]\s+1kB\/4kB/);
  assert.ok(t.includes('\x1b[1A'), 'cursor moves up to the layer line');
  assert.ok(t.includes('\x1b[2K'), 'lines are cleared before being redrawn');
});

test('an error in the stream ends it', async () => {
  await assert.rejects(displayProgress([`${JSON.stringify({ errorDetail: { message: 'manifest unknown' }, error: 'manifest unknown' })}\n`] as never, { out: sink(false).out }),
    (e: unknown) => e instanceof StreamError && e.message === 'manifest unknown');
});

test('progress bar text', () => {
  assert.equal(progressString({ current: 0, total: 0 }, 200), '');
  assert.equal(progressString({ current: 2_000_000, total: 4_000_000 }, 200), `[${'='.repeat(25)}>${' '.repeat(25)}]      2MB/4MB`);
  assert.equal(progressString({ current: 2_000_000, total: 4_000_000 }, 80), '     2MB/4MB');
  assert.equal(progressString({ current: 5000 }, 80), '     5kB');
});
