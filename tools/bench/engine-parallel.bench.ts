// 50 containers started in parallel (50 concurrent `POST /containers/{id}/start` on created containers), berthd
// vs a real dockerd: wall time until all have started. Target (issue 8): berth ≤ 0.5× docker.
// Run: npm run bench -- engine-parallel
import http from 'node:http';
import { compare, type Contender } from './harness.ts';
import { docker, startBerth, startDocker, type Daemon } from './engine-common.ts';

const N = 50;

function post(socket: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path, method: 'POST' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function parallelStart(d: Daemon): Contender {
  let ids: string[] = [];
  return {
    name: `${d.name}: ${N} parallel starts`,
    before: async () => undefined,
    run: async () => {
      ids = [];
      for (let i = 0; i < N; i += 10) {
        const batch = await Promise.all(Array.from({ length: 10 }, () => docker(d, ['create', '--network', 'none', 'busybox', 'sleep', '300'])));
        ids.push(...batch.map((s) => s.trim()));
      }
      const t0 = performance.now();
      const codes = await Promise.all(ids.map((id) => post(d.socket, `/v1.41/containers/${id}/start`)));
      const ms = performance.now() - t0;
      if (codes.some((c) => c !== 204)) throw new Error(`${d.name}: start answered ${codes.join(',')}`);
      timings.get(d.name)!.push(ms);
      await docker(d, ['rm', '-f', ...ids]);
    },
  };
}

// compare() times the whole run (creation and removal included); the start phase alone is reported here too.
const timings = new Map<string, number[]>([['berth', []], ['docker', []]]);
const [berth, dockerd] = await Promise.all([startBerth(), startDocker()]);
try {
  await Promise.all([docker(berth, ['pull', '-q', 'busybox']), docker(dockerd, ['pull', '-q', 'busybox'])]);
  await compare({
    title: `${N} containers created, started in parallel, removed (whole cycle)`,
    berth: parallelStart(berth),
    references: [parallelStart(dockerd)],
    runs: Number(process.env.BENCH_RUNS ?? 3),
    warmup: 1,
    unit: 's',
  });
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const b = med(timings.get('berth')!.slice(1));
  const k = med(timings.get('docker')!.slice(1));
  console.log(`\n## the ${N} parallel starts alone (median)`);
  console.log(`  berth  ${(b / 1000).toFixed(2)} s\n  docker ${(k / 1000).toFixed(2)} s   berth/docker = ${(b / k).toFixed(2)}×`);
  console.log(`  target berth/docker ≤ 0.5: ${b / k <= 0.5 ? 'met' : 'NOT met'}`);
} finally {
  await Promise.all([berth.stop(), dockerd.stop()]);
}
