// Low-level runtime benchmark: start-to-exit latency of busybox `true` from the same bundle.
//   1. `berth-runc run` vs `runc run` vs `crun run` — whole CLI invocations, create+start+wait+delete
//      (crun runs in a private mount namespace with /sys/fs/cgroup/unified unmounted: it cannot handle the
//      hybrid layout's empty cgroup2 mount).
//   2. the in-process libs/runtime path the shim uses (create + start + waitExit + delete) vs `crun run`.
//   3. `docker run --rm busybox true` on a private dockerd with --runtime berth vs its default runc (the whole
//      Docker path: the shim calls the runtime's create, start, delete).
// Targets (issue 3): berth-runc run at or below runc's median; the in-process path at or below crun's.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Runtime, defaultSpec, waitExit } from '@berth/runtime';
import { removeCgroupTree, run, startDockerd, testCgroupParent, unpackRootfs, uniqueSuffix } from '@berth/testing';
import { compare } from './harness.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const BERTH_RUNC = path.resolve(import.meta.dirname, '../../apps/runc/dist/main.js');
if (!existsSync(BERTH_RUNC)) throw new Error(`${BERTH_RUNC} is missing: npm run build -w @berth/runc`);

// State roots on tmpfs, as in real use (/run/berth-runc, /run/runc, /run/crun).
const base = `/run/berth-runcbench-${uniqueSuffix(3)}`;
const cg = testCgroupParent();
const bundle = path.join(base, 'bundle');
mkdirSync(bundle, { recursive: true });
unpackRootfs('busybox', path.join(bundle, 'rootfs'));
const spec = defaultSpec();
spec.process!.terminal = false;
spec.process!.args = ['true'];
spec.linux!.cgroupsPath = `${cg}/bench`;
writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));

let n = 0;
async function exec(cmd: string, args: string[]): Promise<void> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], cwd: bundle });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${code}`);
}

const berthRunc = { name: 'berth-runc run', run: () => exec(BERTH_RUNC, ['--root', path.join(base, 'berth'), 'run', `b${++n}`]) };
const runc = { name: 'runc run', run: () => exec('runc', ['--root', path.join(base, 'runc'), 'run', `r${++n}`]) };
const crun = {
  name: 'crun run',
  run: () => exec('unshare', ['-m', 'sh', '-c', `umount /sys/fs/cgroup/unified && exec crun --root ${path.join(base, 'crun')} run c${++n}`]),
};
const rt = new Runtime({ root: path.join(base, 'inproc') });
const inProcess = {
  name: 'libs/runtime in-process',
  run: async () => {
    const id = `i${++n}`;
    const { pid } = await rt.create(id, { bundle });
    const exited = waitExit(pid);
    await rt.start(id);
    const s = await exited;
    if (s.status !== 0) throw new Error(`in-process container exited with ${s.status}`);
    await rt.delete(id);
  },
};

try {
  await compare({
    title: 'busybox `true`, start to exit (CLI: create+start+wait+delete)',
    berth: berthRunc,
    references: [runc, crun],
    runs: RUNS,
    warmup: 3,
    target: { reference: 'runc run', ratio: 1 },
  });
  await compare({
    title: 'busybox `true`, start to exit: the shim\'s in-process path vs crun',
    berth: inProcess,
    references: [crun],
    runs: RUNS,
    warmup: 3,
    target: { reference: 'crun run', ratio: 1 },
  });
  const dockerd = await startDockerd(path.join(base, 'docker'), { runtimes: { berth: BERTH_RUNC } });
  try {
    const pull = await run('docker', ['pull', '-q', 'busybox'], { env: dockerd.env });
    if (pull.code !== 0) throw new Error(`docker pull: ${pull.stderr}`);
    const dockerRun = (runtime: string) => ({
      name: `docker run (${runtime})`,
      run: async () => {
        const r = await run('docker', ['run', '--rm', '--runtime', runtime, '--network', 'none', 'busybox', 'true'], { env: dockerd.env });
        if (r.code !== 0) throw new Error(`docker run --runtime ${runtime}: ${r.stderr}`);
      },
    });
    await compare({
      title: 'docker run --rm busybox true (private dockerd 20.10 + containerd 1.6)',
      berth: dockerRun('berth'),
      references: [dockerRun('runc')],
      runs: Math.max(5, Math.round(RUNS / 3)),
      warmup: 1,
    });
  } finally {
    await dockerd.stop();
  }
} finally {
  rmSync(base, { recursive: true, force: true });
  removeCgroupTree(cg);
}
