// CLI start-up cost: `berth ps` vs `docker ps` against the same private dockerd, and `berth --version` vs
// `docker --version`. An empty Node script is measured alongside as the floor no Node CLI can go below.
// Run: npm run bench -- cli
import { startDockerd, tempDir } from '@berth/testing';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { compare, type Contender } from './harness.ts';

const root = path.resolve(import.meta.dirname, '../..');
const cliDir = path.join(root, 'apps/cli');
const build = spawnSync(process.execPath, [path.join(root, 'tools/build/bundle.ts')], { cwd: cliDir, stdio: 'inherit' });
if (build.status !== 0) process.exit(1);
const berth = path.join(cliDir, 'dist/main.js');

function exec(name: string, file: string, args: string[], env: NodeJS.ProcessEnv): Contender {
  return {
    name,
    run: () => new Promise<void>((resolve, reject) => {
      const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`))));
    }),
  };
}

const tmp = tempDir('berth-bench-cli-');
const dockerd = await startDockerd(path.join(tmp.path, 'dockerd'));
try {
  const env = { ...process.env, DOCKER_HOST: dockerd.host, DOCKER_CONFIG: path.join(tmp.path, 'docker'), BERTH_CONFIG: path.join(tmp.path, 'berth') };
  const empty = path.join(tmp.path, 'empty.mjs');
  writeFileSync(empty, '');
  // a few containers so `ps` has rows to format
  spawnSync('docker', ['pull', '-q', 'busybox'], { env });
  for (let i = 0; i < 3; i++) spawnSync('docker', ['run', '-d', '--name', `bench-${i}`, 'busybox', 'sleep', '600'], { env });

  await compare({
    title: '`ps` against the same dockerd',
    berth: exec('berth ps', berth, ['ps'], env),
    references: [exec('docker ps', 'docker', ['ps'], env), exec('node (empty script)', process.execPath, [empty], env)],
    target: { reference: 'docker ps', ratio: 1.5 },
    runs: 30,
    warmup: 3,
  });
  await compare({
    title: '`--version`',
    berth: exec('berth --version', berth, ['--version'], env),
    references: [exec('docker --version', 'docker', ['--version'], env), exec('node (empty script)', process.execPath, [empty], env)],
    runs: 30,
    warmup: 3,
  });
} finally {
  spawnSync('docker', ['rm', '-f', 'bench-0', 'bench-1', 'bench-2'], { env: { ...process.env, DOCKER_HOST: dockerd.host } });
  await dockerd.stop();
  tmp[Symbol.dispose]();
}
