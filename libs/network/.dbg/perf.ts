import { makeEnv } from '../src/spec-env.ts';
import { mkdirSync } from 'node:fs';
const env = await makeEnv();
const m = await env.open();
try {
  const n = await m.create({ name: env.tag + 'p', options: { 'com.docker.network.bridge.name': env.tag + 'p' } });
  for (const [label, mode, extra] of [['default bridge', 'bridge', {}], ['user net', n.name, {}], ['user net + port', n.name, { portBindings: { '80/tcp': [{}] } }]] as const) {
    const times: number[] = []; const rel: number[] = [];
    for (let i = 0; i < 15; i++) {
      const id = `c${i}`.padEnd(64, 'a');
      mkdirSync(env.root + '/' + id, { recursive: true });
      const t0 = performance.now();
      await m.createSandbox({ containerId: id, containerName: 'c' + i, hostname: 'h', networkMode: mode, filesDir: env.root + '/' + id, ...extra });
      const t1 = performance.now();
      await m.releaseSandbox(id);
      times.push(t1 - t0); rel.push(performance.now() - t1);
    }
    times.sort((a, b) => a - b); rel.sort((a, b) => a - b);
    console.log(label, 'create median', times[7]!.toFixed(1), 'ms; release median', rel[7]!.toFixed(1), 'ms');
  }
  await m.remove(n.id);
} finally { await env.close(); }
