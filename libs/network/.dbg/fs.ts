import { writeFileAtomic } from '../src/atomic-file.ts';
import { writeFileSync, renameSync } from 'node:fs';
const t0 = performance.now();
for (let i = 0; i < 20; i++) writeFileAtomic('/tmp/fsync-test', 'x'.repeat(300));
console.log('atomic+fsync', ((performance.now() - t0) / 20).toFixed(2));
const t1 = performance.now();
for (let i = 0; i < 20; i++) { writeFileSync('/tmp/fsync-test.tmp', 'x'.repeat(300)); renameSync('/tmp/fsync-test.tmp', '/tmp/fsync-test'); }
console.log('rename only', ((performance.now() - t1) / 20).toFixed(2));
