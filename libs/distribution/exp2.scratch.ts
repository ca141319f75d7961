import { startRegistry, startDockerd, run } from '@berth/testing';
import { mkdirSync, writeFileSync } from 'node:fs';
import { startTokenServer, writeHtpasswd } from './src/test-support.ts';
const base = '/tmp/dscratch/exp2';
mkdirSync(base, { recursive: true });
const auth = await startRegistry(`${base}/reg2`, { htpasswd: writeHtpasswd(`${base}/htpasswd`, 'alice', 'secret') });
const tokens = await startTokenServer(base, { alice: 'secret' }, { publicPrefix: 'public/' });
const treg = await startRegistry(`${base}/reg3`, { extraYaml: tokens.yaml });
const d = await startDockerd(`${base}/dockerd`, { extraArgs: [`--insecure-registry=${auth.addr}`, `--insecure-registry=${treg.addr}`] });
const docker = async (...a: string[]) => { const r = await run('docker', a, { env: d.env }); console.log('$ docker', a.join(' '), '\n', r.code, r.stdout.slice(-600), r.stderr); return r; };
try {
  mkdirSync(`${base}/dockerd/cli-config`, { recursive: true });
  writeFileSync(`${base}/dockerd/cli-config/config.json`, JSON.stringify({ auths: { [auth.addr]: { auth: Buffer.from('alice:wrong').toString('base64') }, [treg.addr]: { auth: Buffer.from('alice:wrong').toString('base64') } } }));
  await docker('pull', `${auth.addr}/x:latest`);
  await docker('pull', `${treg.addr}/private/x:latest`);
  await docker('login', '-u', 'alice', '-p', 'wrong', treg.addr);
  writeFileSync(`${base}/dockerd/cli-config/config.json`, '{}');
  await docker('pull', `${treg.addr}/private/x:latest`);
  await docker('pull', `${treg.addr}/public/x:latest`);
  await docker('login', '-u', 'alice', '-p', 'secret', treg.addr);
  await docker('pull', `${treg.addr}/private/x:latest`);
  console.log(tokens.requests.join('\n'));
} finally { await d.stop(); await auth.stop(); await treg.stop(); await tokens.stop(); }
