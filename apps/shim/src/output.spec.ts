// Output at full speed with nobody attached: the container runs at the log writer's pace and every byte lands.
import { jsonFileUri } from '@berth/shim-protocol';
import assert from 'node:assert/strict';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { Fixture, isAlive } from './test-helpers.ts';
import { waitFor } from '@berth/testing';

let fx: Fixture;
before(() => {
  fx = new Fixture();
});
after(async () => {
  await fx.cleanup();
});

const LINE = `${'0123456789'.repeat(9)}abcdefghi\n`; // 100 bytes
const LINES = 1024 * 1024; // 100 MiB

test('100 MiB of output lands in the json-file log intact', async () => {
  const id = 'flood';
  const log = path.join(fx.root, 'flood.log');
  const shim = await fx.launch(id);
  const script = `yes '${LINE.trimEnd()}' | head -n ${LINES}; echo done >&2`;
  await shim.create({ bundle: fx.bundle(id, ['sh', '-c', script]), stdout: jsonFileUri(log), stderr: jsonFileUri(log), runtimeRoot: fx.runtimeRoot });
  const t0 = performance.now();
  await shim.start();
  const exit = await shim.wait();
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(exit.exitCode, 0);

  // Rebuild the stream from the entries: every byte must be there, in order. Entries are lines, except that
  // a line the producer stalled in the middle of for a second (a loaded machine) is stored in two.
  let entries = 0;
  let lines = 0;
  let bytes = 0;
  let bad = 0;
  let partial = '';
  let stderr = '';
  const input = createInterface({ input: createReadStream(log), crlfDelay: Infinity });
  for await (const l of input) {
    const e = JSON.parse(l) as { log: string; stream: string; time: string };
    if (e.stream === 'stderr') {
      stderr += e.log;
      continue;
    }
    entries++;
    bytes += e.log.length;
    if (!e.log.endsWith('\n')) {
      partial += e.log;
      continue;
    }
    if (partial + e.log !== LINE) bad++;
    partial = '';
    lines++;
  }
  console.log(`# ${(100 / seconds).toFixed(0)} MiB/s through the shim into the log (${seconds.toFixed(1)} s, log ${(statSync(log).size / 2 ** 20).toFixed(0)} MiB, ${entries - lines} split lines)`);
  assert.equal(bad, 0);
  assert.equal(partial, '');
  assert.equal(lines, LINES);
  assert.equal(bytes, LINES * LINE.length);
  assert.ok(entries - lines < 10, `${entries - lines} lines split into partial entries`);
  assert.equal(stderr, 'done\n');
  await shim.delete();
  await waitFor(() => !isAlive(shim.info.pid), 'the shim to exit');
});
