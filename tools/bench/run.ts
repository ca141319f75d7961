// `npm run bench [-- name…]`: runs every tools/bench/*.bench.ts (or the named ones) one after another.
// Benchmarks are not part of `npm test`; each prints its medians and ratios (see harness.ts).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const dir = import.meta.dirname;
const wanted = process.argv.slice(2);
const benches = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).sort()
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.bench\.ts$/, '')));
if (benches.length === 0) {
  console.error(`no benchmarks${wanted.length ? ` named ${wanted.join(', ')}` : ''} in ${dir}`);
  process.exit(1);
}
let failed = 0;
for (const b of benches) {
  console.log(`\n# ${b}`);
  const r = spawnSync(process.execPath, [path.join(dir, b)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
