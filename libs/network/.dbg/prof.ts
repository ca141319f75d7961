import { makeEnv } from '../src/spec-env.ts';
import { mkdirSync } from 'node:fs';
import { runTool } from '../src/exec.ts';
const env = await makeEnv();
const m = await env.open();
const orig = runTool;
try {
  const n = await m.create({ name: env.tag + 'p', options: { 'com.docker.network.bridge.name': env.tag + 'p' } });
  const n2 = await m.create({ name: env.tag + 'q', options: { 'com.docker.network.bridge.name': env.tag + 'q' } });
  const mk = async (i: number) => { const id = `c${i}`.padEnd(64, 'a'); mkdirSync(env.root + '/' + id, { recursive: true }); const t0 = performance.now(); await m.createSandbox({ containerId: id, containerName: 'c' + i, hostname: 'h', networkMode: n.name, filesDir: env.root + '/' + id }); return [id, performance.now() - t0] as const; };
  const [keep] = await mk(99);
  for (let i = 0; i < 8; i++) {
    const [id, t] = await mk(i);
    const t1 = performance.now(); await m.connect(keep, n2.id); const tc = performance.now() - t1;
    const t2 = performance.now(); await m.disconnect(keep, n2.id); const td = performance.now() - t2;
    const t3 = performance.now(); await m.releaseSandbox(id); const tr = performance.now() - t3;
    console.log(`create ${t.toFixed(1)} connect ${tc.toFixed(1)} disconnect ${td.toFixed(1)} release ${tr.toFixed(1)}`);
  }
  await m.releaseSandbox(keep);
  await m.remove(n.id); await m.remove(n2.id);
} finally { await env.close(); }
void orig;
