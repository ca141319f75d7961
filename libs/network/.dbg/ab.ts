import net from 'node:net';
import { spawn } from 'node:child_process';
import { run } from '@berth/testing';
const srv = spawn('iperf3', ['-s', '-p', '5299'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 300));
function proxy(opts: object): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true, ...opts }, (c) => {
    const u = net.connect({ host: '127.0.0.1', port: 5299, allowHalfOpen: true, noDelay: true, ...opts });
    c.pipe(u); u.pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res((server.address() as net.AddressInfo).port)));
}
const a = await proxy({}); const b = await proxy({ highWaterMark: 1 << 20 });
const g = async (p: number) => (JSON.parse((await run('iperf3', ['-c', '127.0.0.1', '-p', String(p), '-n', '1G', '-J'])).stdout).end.sum_received.bits_per_second / 1e9);
const ra: number[] = [], rb: number[] = [];
for (let i = 0; i < 5; i++) { ra.push(await g(a)); rb.push(await g(b)); }
console.log('default', ra.map((x) => x.toFixed(2)).join(' '));
console.log('hwm 1M ', rb.map((x) => x.toFixed(2)).join(' '));
srv.kill(); process.exit(0);
