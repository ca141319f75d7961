// `docker run --rm busybox true` through berthd and through a real dockerd (private sockets and roots, same
// image from the loopback registry), alternating; the CLI's wall time. Target (issue 8): berth ≤ 0.5× docker.
// Both run the container without a network (`--network none`): the private dockerd has no bridge.
// Run: npm run bench -- engine-run
import { spawn } from 'node:child_process';
import { compare, type Contender } from './harness.ts';
import { docker, startBerth, startDocker, type Daemon } from './engine-common.ts';

const runs = Number(process.env.BENCH_RUNS ?? 20);

function contender(d: Daemon, args: string[]): Contender {
  return {
    name: `${d.name}: docker ${args.join(' ')}`,
    run: () => new Promise<void>((resolve, reject) => {
      const child = spawn('docker', args, { env: d.env, stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${d.name} exited ${code}`))));
    }),
  };
}

const [berth, dockerd] = await Promise.all([startBerth(), startDocker()]);
try {
  await Promise.all([docker(berth, ['pull', '-q', 'busybox']), docker(dockerd, ['pull', '-q', 'busybox'])]);
  const args = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
  await compare({
    title: 'docker run --rm busybox true (CLI wall time)',
    berth: contender(berth, args),
    references: [contender(dockerd, args)],
    runs,
    warmup: 3,
    target: { reference: `docker: docker ${args.join(' ')}`, ratio: 0.5 },
  });
} finally {
  await Promise.all([berth.stop(), dockerd.stop()]);
}
