// A TCP probe for the network benchmark, run inside a container's network namespace (`nsenter --net=…`), the
// same program for berth's and docker's containers:
//   node net-probe.ts server PORT            accept and close connections (prints "ready")
//   node net-probe.ts connect HOST PORT N    N sequential connects; prints {"medianUs":…,"p90Us":…}
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const [mode, a, b, c] = process.argv.slice(2);

if (mode === 'server') {
  const server = net.createServer((s) => s.destroy());
  server.listen(Number(a), '0.0.0.0', () => console.log('ready'));
} else if (mode === 'connect') {
  const host = a!;
  const port = Number(b);
  const n = Number(c ?? 200);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host, port }, () => {
        samples.push((performance.now() - t0) * 1000);
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
  }
  samples.sort((x, y) => x - y);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  console.log(JSON.stringify({ medianUs: at(0.5), p90Us: at(0.9), n }));
} else {
  console.error('usage: net-probe.ts server PORT | connect HOST PORT N');
  process.exit(2);
}
