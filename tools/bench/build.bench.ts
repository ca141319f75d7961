// Building a 10-step Dockerfile on the debian image with the classic API (`DOCKER_BUILDKIT=0 docker build`),
// berthd vs a real dockerd (private roots, the same docker CLI, the base image pulled into both beforehand),
// alternating: cold (`--no-cache`: every step runs again; RUNs are real containers) and cached (nothing
// changed: every step comes from the cache). Targets (issue 11): cold ≤ 0.7×, cached ≤ 0.5× dockerd's median.
// `berth build` vs `docker build` against berthd is printed too, for reference. Run: npm run bench -- build
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  SHARED_REGISTRY, removeCgroupTree, run, startDockerd, stopProcess, tempDir, testCgroupParent, testSubnet, uniqueSuffix, waitFor,
} from '@berth/testing';
import { compare, type Contender } from './harness.ts';

const runs = Number(process.env.BENCH_RUNS ?? 10);
const root = path.resolve(import.meta.dirname, '../..');
const cliDir = path.join(root, 'apps/cli');
const bundle = spawnSync(process.execPath, [path.join(root, 'tools/build/bundle.ts')], { cwd: cliDir, stdio: 'inherit' });
if (bundle.status !== 0) process.exit(1);
const berthCli = path.join(cliDir, 'dist/main.js');

const DOCKERFILE = `FROM debian
ENV APP_HOME=/srv/app LANG=C.UTF-8
WORKDIR /srv/app
COPY files/ ./
RUN mkdir -p /srv/data && echo ready > /srv/data/state
ARG VERSION=1.0
LABEL version=$VERSION
RUN for i in 1 2 3; do echo "$i" >> /srv/data/log; done
RUN chown -R nobody:nogroup /srv/data
USER nobody
CMD ["cat", "/srv/data/state"]
`;

/** berthd of this checkout on private roots. */
async function startBerthd(dir: string): Promise<{ host: string; stop: () => Promise<void> }> {
  const id = uniqueSuffix(3);
  const execRoot = `/run/berth-bench-build-${id}`;
  const sub = testSubnet();
  const cgroupParent = testCgroupParent();
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'daemon.json'), '{}\n');
  const log = openSync(path.join(dir, 'berthd.log'), 'a');
  const host = `unix://${execRoot}/berthd.sock`;
  const child = spawn(process.execPath, [
    path.join(root, 'apps/engine/src/main.ts'), `--config-file=${path.join(dir, 'daemon.json')}`, `--host=${host}`,
    `--data-root=${path.join(dir, 'data')}`, `--exec-root=${execRoot}`, `--bridge=bbb${id}`, `--bip=${sub.gateway}/24`, '--iptables=false',
    `--cgroup-parent=${cgroupParent}`, `--registry-mirror=http://${SHARED_REGISTRY}`, `--insecure-registry=${SHARED_REGISTRY}`, '--log-level=warn',
  ], { stdio: ['ignore', log, log] });
  const stop = async () => {
    await stopProcess(child, 20_000);
    await run('ip', ['link', 'del', `bbb${id}`]);
    removeCgroupTree(cgroupParent);
    rmSync(execRoot, { recursive: true, force: true });
  };
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`berthd exited; see ${path.join(dir, 'berthd.log')}`);
    return (await run('docker', ['-H', host, 'version'])).code === 0;
  }, 'berthd', 90_000, 250);
  return { host, stop };
}

function exec(name: string, file: string, args: string[], env: NodeJS.ProcessEnv): Contender {
  return {
    name,
    run: () => new Promise<void>((resolve, reject) => {
      const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}: ${err}`))));
    }),
  };
}

const tmp = tempDir('berth-bench-build-');
const ctx = path.join(tmp.path, 'context');
mkdirSync(path.join(ctx, 'files'), { recursive: true });
writeFileSync(path.join(ctx, 'Dockerfile'), DOCKERFILE);
for (let i = 1; i <= 3; i++) writeFileSync(path.join(ctx, 'files', `f${i}.txt`), `file ${i}\n`);

const dockerd = await startDockerd(path.join(tmp.path, 'dockerd'));
const berthd = await startBerthd(path.join(tmp.path, 'berthd'));
try {
  const base = { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: path.join(tmp.path, 'docker-config') };
  const envB = { ...base, DOCKER_HOST: berthd.host };
  const envD = { ...base, DOCKER_HOST: dockerd.host };
  for (const env of [envB, envD]) {
    const p = await run('docker', ['pull', '-q', 'debian'], { env });
    if (p.code !== 0) throw new Error(`pull debian: ${p.stderr}`);
    const b = await run('docker', ['build', '-q', '-t', 'bench-build', ctx], { env });
    if (b.code !== 0) throw new Error(`first build: ${b.stderr}`);
  }
  const build = (name: string, env: NodeJS.ProcessEnv, extra: string[]) => exec(name, 'docker', ['build', '-q', ...extra, '-t', 'bench-build', ctx], env);
  const results = [];
  results.push(await compare({
    title: 'cold build of a 10-step Dockerfile on debian (--no-cache)',
    berth: build('berthd', envB, ['--no-cache']),
    references: [build('dockerd', envD, ['--no-cache'])],
    runs, warmup: 1, target: { reference: 'dockerd', ratio: 0.7 }, unit: 's',
  }));
  results.push(await compare({
    title: 'cached rebuild of the same Dockerfile (nothing changed)',
    berth: build('berthd', envB, []),
    references: [build('dockerd', envD, [])],
    runs: runs * 2, warmup: 2, target: { reference: 'dockerd', ratio: 0.5 },
  }));
  // For reference: berth's own CLI for the same cached build (Node start-up included).
  await compare({
    title: 'cached rebuild: berth build vs docker build, both against berthd',
    berth: exec('berth build', process.execPath, [berthCli, 'build', '-q', '-t', 'bench-build', ctx], envB),
    references: [build('docker build', envB, [])],
    runs: runs * 2, warmup: 2,
  });
  if (results.some((r) => r.targetMet === false)) process.exitCode = 1;
} finally {
  await berthd.stop();
  await dockerd.stop();
  tmp[Symbol.dispose]();
}
