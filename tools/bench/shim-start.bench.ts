// What a warm shim saves on the hot path of a container start: get a shim, create, start, wait for the exit
// of `true`, delete — with a shim process launched for the container (a Node start on the path) against a
// slot in a warm process from a SparePool (one task per process, and sixteen; refilled after 200 ms as
// berth-runtimed does). Run: npm run bench -- shim-start
import { defaultSpec } from '@berth/runtime';
import { launchShim, ShimClient, SparePool } from '@berth/shim-protocol';
import { removeCgroupTree, tempDir, testCgroupParent, unpackRootfs } from '@berth/testing';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compare, type Contender } from './harness.ts';

const root = path.resolve(import.meta.dirname, '../..');
const build = spawnSync(process.execPath, [path.join(root, 'tools/build/bundle.ts')], { cwd: path.join(root, 'apps/shim'), stdio: 'inherit' });
if (build.status !== 0) process.exit(1);
const binary = path.join(root, 'apps/shim/dist/main.js');

const tmp = tempDir('berth-bench-shim-start-');
const cgroupParent = testCgroupParent();
const rootfs = unpackRootfs('busybox', path.join(tmp.path, 'rootfs'));
let n = 0;

function bundle(id: string): string {
  const dir = path.join(tmp.path, 'bundles', id);
  mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.process!.args = ['true'];
  spec.root = { path: rootfs, readonly: true };
  spec.linux!.cgroupsPath = `${cgroupParent}/${id}`;
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

async function runTask(shim: ShimClient, id: string): Promise<void> {
  await shim.create({ bundle: bundle(id), runtimeRoot: path.join(tmp.path, 'runc') });
  const exited = shim.wait();
  await shim.start();
  const exit = await exited;
  if (exit.exitCode !== 0) throw new Error(`task ${id} exited with ${exit.status}`);
  await shim.delete();
  shim.close();
}

function cold(): Contender {
  return {
    name: 'launch a shim per task',
    run: async () => {
      const id = `c${n++}`;
      const l = await launchShim({ binary, socket: path.join(tmp.path, 's', `${id}.sock`), stateDir: path.join(tmp.path, 's', id), id });
      await runTask(await ShimClient.connect(l.socket), id);
    },
  };
}

function warm(tasksPerShim: number): Contender {
  let pool: SparePool;
  return {
    name: `warm pool, ${tasksPerShim}/process`,
    before: async () => {
      pool = new SparePool({ binary, dir: path.join(tmp.path, `pool${tasksPerShim}`), size: 1, tasksPerShim, refillDelayMs: 200 });
      await pool.start();
      await pool.waitReady();
    },
    run: async () => {
      const id = `w${n++}`;
      await runTask(await pool.claim({ id, socket: path.join(tmp.path, 's', `${id}.sock`), stateDir: path.join(tmp.path, 's', id) }), id);
      await pool.waitReady();
    },
    after: () => pool.close(),
  };
}

try {
  await compare({
    title: 'get a shim + create + start + exit + delete of `true`',
    berth: warm(1),
    references: [cold(), warm(16)],
    runs: Number(process.env.BENCH_RUNS ?? 20),
    warmup: 2,
    target: { reference: 'launch a shim per task', ratio: 0.8 },
  });
} finally {
  removeCgroupTree(cgroupParent);
  tmp[Symbol.dispose]();
}
