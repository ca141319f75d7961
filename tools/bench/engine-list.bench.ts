// API throughput of `GET /containers/json?all=1` with 100 containers, berthd vs a real dockerd, measured with
// autocannon on each unix socket (fixed request count, 10 connections; time per batch, alternating).
// Target (issue 8): berth ≥ 2× docker's throughput, i.e. berth's time ≤ 0.5× docker's.
// Run: npm run bench -- engine-list
import autocannon from 'autocannon';
import { compare, type Contender } from './harness.ts';
import { docker, startBerth, startDocker, type Daemon } from './engine-common.ts';

const COUNT = 100;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);

function batch(d: Daemon): Contender {
  return {
    name: `${d.name}: GET /containers/json (${REQUESTS} requests)`,
    run: async () => {
      const r = await autocannon({
        url: 'http://localhost/v1.41/containers/json?all=1', socketPath: d.socket, connections: 10, amount: REQUESTS,
      } as autocannon.Options);
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${d.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
    },
  };
}

const [berth, dockerd] = await Promise.all([startBerth(), startDocker()]);
try {
  await Promise.all([docker(berth, ['pull', '-q', 'busybox']), docker(dockerd, ['pull', '-q', 'busybox'])]);
  for (const d of [berth, dockerd]) {
    for (let i = 0; i < COUNT; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => docker(d, ['create', '--network', 'none', '--name', `list-${i + j}`, 'busybox', 'true'])));
    }
  }
  const res = await compare({
    title: `GET /containers/json?all=1 with ${COUNT} containers (time for ${REQUESTS} requests)`,
    berth: batch(berth),
    references: [batch(dockerd)],
    runs: Number(process.env.BENCH_RUNS ?? 5),
    warmup: 1,
    target: { reference: `docker: GET /containers/json (${REQUESTS} requests)`, ratio: 0.5 },
  });
  for (const [name, ms] of Object.entries(res.medians)) console.log(`  ${name}: ${Math.round((REQUESTS * 1000) / ms)} requests/s`);
} finally {
  await Promise.all([berth.stop(), dockerd.stop()]);
}
