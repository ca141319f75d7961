import { makeEnv, httpd, stopHttpd } from '../src/spec-env.ts';
import { run } from '@berth/testing';
import { mkdirSync } from 'node:fs';
const env = await makeEnv();
let m = await env.open();
const sp = (name: string, mode: string, extra = {}) => { const id = name.padEnd(64, '0'); mkdirSync(env.root + '/' + id, { recursive: true }); return { containerId: id, containerName: name, hostname: name, networkMode: mode, filesDir: env.root + '/' + id, ...extra }; };
try {
  const n = await m.create({ name: env.tag + 'r', options: { 'com.docker.network.bridge.name': env.tag + 'r' } });
  const web = await m.createSandbox(sp('keep', n.name, { portBindings: { '80/tcp': [{ hostPort: '18777' }] } }));
  const h = await httpd(web.netnsPath!, 'survivor');
  console.log('before', (await run('curl', ['-s', '-m', '2', 'http://127.0.0.1:18777/'])).stdout);
  await m.close();
  console.log('closed', (await run('curl', ['-s', '-m', '2', 'http://127.0.0.1:18777/'])).stdout);
  m = await env.open();
  console.log('reopened', (await run('curl', ['-s', '-m', '2', 'http://127.0.0.1:18777/'])));
  console.log((await run('iptables-save', [])).stdout.split('\n').filter((l) => l.includes(env.prefix)).join('\n'));
  console.log((await run('sysctl', [`net.ipv4.conf.${env.tag}r.route_localnet`])).stdout);
  await stopHttpd(h);
  await m.releaseSandbox(web.containerId);
  await m.remove(n.id);
} finally { await env.close(); }
