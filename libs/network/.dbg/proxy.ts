import { startProxy } from '../src/port-proxy.ts';
import { spawn } from 'node:child_process';
import { run } from '@berth/testing';
const srv = spawn('iperf3', ['-s', '-p', '5299'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 300));
const p = await startProxy('tcp', '127.0.0.1', 0, () => ({ ip: '127.0.0.1', port: 5299 }));
for (let i = 0; i < 3; i++) {
  const r = await run('iperf3', ['-c', '127.0.0.1', '-p', String(p.hostPort), '-n', '1G', '-J']);
  console.log('proxy', (JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e9).toFixed(2));
  const d = await run('iperf3', ['-c', '127.0.0.1', '-p', '5299', '-n', '1G', '-J']);
  console.log('direct', (JSON.parse(d.stdout).end.sum_received.bits_per_second / 1e9).toFixed(2));
}
await p.close();
srv.kill();
