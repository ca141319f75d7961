// Idle resident memory of the engines: berthd + berth-runtimed (+ its redis and spare shims) vs dockerd +
// containerd, each freshly started with busybox pulled and no container, sampled after a few seconds at rest.
// Run: npm run bench -- engine-rss
import { docker, rssKiB, startBerth, startDocker } from './engine-common.ts';

const [berth, dockerd] = await Promise.all([startBerth(), startDocker()]);
try {
  await Promise.all([docker(berth, ['pull', '-q', 'busybox']), docker(dockerd, ['pull', '-q', 'busybox'])]);
  await docker(berth, ['run', '--rm', '--network', 'none', 'busybox', 'true']);
  await docker(dockerd, ['run', '--rm', '--network', 'none', 'busybox', 'true']);
  await new Promise((r) => setTimeout(r, 5000));
  const b = rssKiB(berth.pids());
  const d = rssKiB(dockerd.pids());
  console.log('\n## idle RSS (after one run, 5 s at rest)');
  console.log(`  berth  (berthd + runtimed + redis + spare shims, ${berth.pids().length} processes): ${(b / 1024).toFixed(1)} MiB`);
  console.log(`  docker (dockerd + containerd, ${dockerd.pids().length} processes): ${(d / 1024).toFixed(1)} MiB`);
  console.log(`  berth/docker = ${(b / d).toFixed(2)}×`);
} finally {
  await Promise.all([berth.stop(), dockerd.stop()]);
}
