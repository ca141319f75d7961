import { SparePool, type ShimClient } from '@berth/shim-protocol';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Fixture } from './test-helpers.ts';

function priv(pid: number): number {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? 0);
  return (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
}
const fx = new Fixture();
try {
  for (const k of [1, 8, 16]) {
    const pool = new SparePool({ binary: path.resolve('dist/main.js'), dir: path.join(fx.root, `pool${k}`), size: 1, tasksPerShim: k });
    await pool.start();
    await pool.waitReady();
    const shims: ShimClient[] = [];
    const N = 16;
    for (let i = 0; i < N; i++) {
      const id = `k${k}-${i}`;
      const s = await pool.claim({ id, socket: fx.socket(id), stateDir: fx.stateDir(id) });
      const log = `jsonfile://${path.join(fx.root, id + '.log')}?max-size=10m&max-file=3`;
      await s.create({ bundle: fx.bundle(id, ['sh', '-c', 'echo hello; sleep 1000']), stdout: log, stderr: log, runtimeRoot: fx.runtimeRoot });
      await s.start();
      shims.push(s);
    }
    await new Promise((r) => setTimeout(r, 3000));
    const pids = [...new Set(shims.map((s) => s.info.pid))];
    const total = pids.reduce((a, p) => a + priv(p), 0);
    console.log(`tasksPerShim ${k}: ${pids.length} processes for ${N} tasks, private total ${total.toFixed(1)} MB, per task ${(total / N).toFixed(2)} MB, per process ${(total / pids.length).toFixed(1)} MB`);
    for (const s of shims) { await s.kill(9); await s.wait(); await s.delete(); }
    await pool.close();
  }
} finally {
  await fx.cleanup();
}
