// CLI start-up cost: `berth ps` vs `docker ps` against the same private dockerd, and `berth --version` vs
// `docker --version`. An empty Node script is measured alongside as the floor no Node CLI can go below.
// Run: npm run bench -- cli
import { SHARED_REGISTRY, removeCgroupTree, run, startDockerd, stopProcess, tempDir, testCgroupParent, testSubnet, uniqueSuffix, waitFor } from '@berth/testing';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
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

/** berthd of this checkout on private roots (as the CLI's tests start it). */
async function startBerthd(dir: string): Promise<{ host: string; stop: () => Promise<void> }> {
  const id = uniqueSuffix(3);
  const execRoot = `/run/berth-bench-${id}`;
  const sub = testSubnet();
  const cgroupParent = testCgroupParent();
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'daemon.json'), '{}\n');
  writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  const log = openSync(path.join(dir, 'berthd.log'), 'a');
  const host = `unix://${execRoot}/berthd.sock`;
  const child = spawn(process.execPath, [
    path.join(root, 'apps/engine/src/main.ts'), `--config-file=${path.join(dir, 'daemon.json')}`, `--host=${host}`,
    `--data-root=${path.join(dir, 'data')}`, `--exec-root=${execRoot}`, `--bridge=bb${id}`, `--bip=${sub.gateway}/24`,
    `--cgroup-parent=${cgroupParent}`, `--registry-mirror=http://${SHARED_REGISTRY}`, `--insecure-registry=${SHARED_REGISTRY}`, '--log-level=warn',
  ], { stdio: ['ignore', log, log], env: { ...process.env, BERTH_RESOLV_CONF: path.join(dir, 'resolv.conf') } });
  const stop = async () => {
    await stopProcess(child, 20_000);
    await run('ip', ['link', 'del', `bb${id}`]);
    removeCgroupTree(cgroupParent);
    rmSync(execRoot, { recursive: true, force: true });
  };
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`berthd exited; see ${path.join(dir, 'berthd.log')}`);
    return (await run('docker', ['-H', host, 'version'])).code === 0;
  }, 'berthd', 90_000, 250);
  return { host, stop };
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

  const berthd = await startBerthd(path.join(tmp.path, 'berthd'));
  try {
    const benv = { ...env, DOCKER_HOST: berthd.host };
    spawnSync('docker', ['pull', '-q', 'busybox'], { env: benv });
    for (let i = 0; i < 3; i++) spawnSync('docker', ['run', '-d', '--name', `bench-${i}`, 'busybox', 'sleep', '600'], { env: benv });
    await compare({
      title: '`ps` against the same berthd',
      berth: exec('berth ps', berth, ['ps'], benv),
      references: [exec('docker ps', 'docker', ['ps'], benv)],
      target: { reference: 'docker ps', ratio: 1.5 },
      runs: 30,
      warmup: 3,
    });
    spawnSync('docker', ['rm', '-f', 'bench-0', 'bench-1', 'bench-2'], { env: benv });
  } finally {
    await berthd.stop();
  }
} finally {
  spawnSync('docker', ['rm', '-f', 'bench-0', 'bench-1', 'bench-2'], { env: { ...process.env, DOCKER_HOST: dockerd.host } });
  await dockerd.stop();
  tmp[Symbol.dispose]();
}
