// A container writing 100 MiB to stdout at full speed with nobody attached: through berth-shim into its
// json-file log, against dockerd's json-file logging of the same command (`docker run`), and against the
// container writing to /dev/null (what the producer alone costs). Each run covers a whole container: shim
// launch (or docker run), create, start, exit with the log fully written, delete.
// Run: npm run bench -- shim-log
import { defaultSpec } from '@berth/runtime';
import { launchShim, ShimClient } from '@berth/shim-protocol';
import { removeCgroupTree, run, startDockerd, tempDir, testCgroupParent, unpackRootfs } from '@berth/testing';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compare, type Contender } from './harness.ts';

const root = path.resolve(import.meta.dirname, '../..');
const build = spawnSync(process.execPath, [path.join(root, 'tools/build/bundle.ts')], { cwd: path.join(root, 'apps/shim'), stdio: 'inherit' });
if (build.status !== 0) process.exit(1);
const binary = path.join(root, 'apps/shim/dist/main.js');

const LINES = 1024 * 1024;
const flood = `yes '${'0123456789'.repeat(9)}abcdefghi' | head -n ${LINES}`; // 100-byte lines: 100 MiB
const tmp = tempDir('berth-bench-shim-log-');
const cgroupParent = testCgroupParent();
const rootfs = unpackRootfs('busybox', path.join(tmp.path, 'rootfs'));
let n = 0;

function bundle(id: string, script: string): string {
  const dir = path.join(tmp.path, 'bundles', id);
  mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.process!.args = ['sh', '-c', script];
  spec.root = { path: rootfs, readonly: true };
  spec.linux!.cgroupsPath = `${cgroupParent}/${id}`;
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

function viaShim(name: string, script: string, logged: boolean): Contender {
  return {
    name,
    run: async () => {
      const id = `r${n++}`;
      const l = await launchShim({ binary, socket: path.join(tmp.path, 's', `${id}.sock`), stateDir: path.join(tmp.path, 's', id), id });
      const shim = await ShimClient.connect(l.socket);
      const log = `jsonfile://${path.join(tmp.path, `${id}.log`)}`;
      await shim.create({ bundle: bundle(id, script), runtimeRoot: path.join(tmp.path, 'runc'), ...(logged ? { stdout: log, stderr: log } : {}) });
      const exited = shim.wait();
      await shim.start();
      const exit = await exited;
      if (exit.exitCode !== 0) throw new Error(`${name}: exit ${exit.status}`);
      await shim.delete();
      shim.close();
      if (logged && statSync(path.join(tmp.path, `${id}.log`)).size < LINES * 100) throw new Error(`${name}: log too short`);
      rmSync(path.join(tmp.path, `${id}.log`), { force: true });
    },
  };
}

const dockerd = await startDockerd(path.join(tmp.path, 'dockerd'));
try {
  const env = { ...dockerd.env, DOCKER_CONFIG: path.join(tmp.path, 'docker-config') };
  await run('docker', ['pull', '-q', 'busybox'], { env });
  const docker: Contender = {
    name: 'dockerd json-file',
    run: async () => {
      const name = `d${n++}`;
      const r = await run('docker', ['run', '--name', name, '--log-driver', 'json-file', 'busybox', 'sh', '-c', flood], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.code !== 0) throw new Error(`docker run: ${r.stderr}`);
      await run('docker', ['rm', name], { env });
    },
  };
  await compare({
    title: 'a container writing 100 MiB to stdout, nobody attached',
    berth: viaShim('berth-shim json-file', flood, true),
    references: [docker, viaShim('berth-shim, output to /dev/null', `${flood} > /dev/null`, false)],
    runs: Number(process.env.BENCH_RUNS ?? 3),
    warmup: 1,
    unit: 's',
    target: { reference: 'dockerd json-file', ratio: 1 },
  });
} finally {
  await dockerd.stop();
  removeCgroupTree(cgroupParent);
  tmp[Symbol.dispose]();
}
