// Per-container memory overhead: 50 sleeping busybox containers started with the docker CLI against berthd
// (its runtimed and berth-shims) and against a private dockerd (containerd and one containerd-shim-runc-v2 per
// container). Reported per container: the shims' RSS, PSS, private and anonymous memory
// (/proc/<pid>/smaps_rollup), the daemons' growth in private memory, and the system's MemAvailable drop (noisy
// when other work runs on the machine). Then the shims alone, without the daemons: 50 tasks through a
// SparePool with 1, 8 and 16 tasks per shim process. Target (issue 7): berth's marginal memory per container
// ≤ docker's. Run: npm run bench -- shim-memory   (BENCH_CONTAINERS=n to change the count)
import { defaultSpec } from '@berth/runtime';
import { ShimClient, SparePool } from '@berth/shim-protocol';
import {
  SHARED_REGISTRY, removeCgroupTree, run, startDockerd, stopProcess, tempDir, testCgroupParent, testSubnet, uniqueSuffix, unpackRootfs,
  waitFor,
} from '@berth/testing';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const COUNT = Number(process.env.BENCH_CONTAINERS ?? 50);
const root = path.resolve(import.meta.dirname, '../..');
for (const app of ['shim', 'runtimed', 'engine']) {
  const r = spawnSync(process.execPath, [path.join(root, 'tools/build/bundle.ts')], { cwd: path.join(root, 'apps', app), stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}

interface Mem { rss: number; pss: number; priv: number; anon: number }

function smaps(pid: number): Mem | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rss: kb('Rss'), pss: kb('Pss'), priv: kb('Private_Clean') + kb('Private_Dirty'), anon: kb('Anonymous') };
}

function processes(): { pid: number; ppid: number; cmd: string }[] {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (cmd) out.push({ pid: Number(d), ppid, cmd });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function sum(pids: number[]): Mem {
  const t: Mem = { rss: 0, pss: 0, priv: 0, anon: 0 };
  for (const p of pids) {
    const m = smaps(p);
    if (!m) continue;
    t.rss += m.rss;
    t.pss += m.pss;
    t.priv += m.priv;
    t.anon += m.anon;
  }
  return t;
}

function memAvailableKb(): number {
  return Number(/^MemAvailable:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
}

/** berthd of this checkout's bundle on private roots; it starts its own berth-runtimed. */
async function startBerthd(dir: string): Promise<{ host: string; execRoot: string; pid: number; stop: () => Promise<void> }> {
  const id = uniqueSuffix(3);
  const execRoot = `/run/berth-bsm-${id}`;
  const sub = testSubnet();
  const cgroupParent = testCgroupParent();
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'daemon.json'), '{}\n');
  const log = openSync(path.join(dir, 'berthd.log'), 'a');
  const host = `unix://${execRoot}/berthd.sock`;
  // This checkout's programs, whatever else is on PATH (daemons look there first).
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, app] of [['berth-runtimed', 'runtimed'], ['berth-shim', 'shim']]) {
    symlinkSync(path.join(root, 'apps', app!, 'dist/main.js'), path.join(bin, name!));
  }
  const child = spawn(process.execPath, [
    path.join(root, 'apps/engine/dist/main.js'), `--config-file=${path.join(dir, 'daemon.json')}`, `--host=${host}`,
    `--data-root=${path.join(dir, 'data')}`, `--exec-root=${execRoot}`, `--bridge=bsm${id}`, `--bip=${sub.gateway}/24`, '--iptables=false',
    `--cgroup-parent=${cgroupParent}`, `--registry-mirror=http://${SHARED_REGISTRY}`, `--insecure-registry=${SHARED_REGISTRY}`, '--log-level=warn',
  ], { stdio: ['ignore', log, log], env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const stop = async () => {
    await stopProcess(child, 30_000);
    await run('ip', ['link', 'del', `bsm${id}`]);
    removeCgroupTree(cgroupParent);
    rmSync(execRoot, { recursive: true, force: true });
  };
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`berthd exited; see ${path.join(dir, 'berthd.log')}`);
    return (await run('docker', ['-H', host, 'version'])).code === 0;
  }, 'berthd', 90_000, 250);
  return { host, execRoot, pid: child.pid!, stop };
}

interface Side {
  name: string;
  host: string;
  /** The shim processes holding containers, with how many each holds. */
  shims(): Promise<{ pid: number; tasks: number }[]>;
  /** The daemons whose growth counts (and their helpers: containerd, runtimed, redis). */
  daemons(): number[];
}

const kb = (n: number) => `${(n / 1024).toFixed(2)} MB`;

async function measure(side: Side, env: NodeJS.ProcessEnv): Promise<Record<string, number>> {
  const docker = (args: string[]) => run('docker', ['-H', side.host, ...args], { env });
  const pull = await docker(['pull', '-q', 'busybox']);
  if (pull.code !== 0) throw new Error(`${side.name}: docker pull: ${pull.stderr}`);
  // One container first, so that lazily loaded code and caches are in place before the baseline.
  await docker(['run', '-d', '--name', 'warm', 'busybox', 'sleep', '3600']);
  await new Promise((r) => setTimeout(r, 3000));
  const daemonsBefore = sum(side.daemons());
  const availBefore = memAvailableKb();
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const r = await docker(['run', '-d', '--name', `s${i}`, 'busybox', 'sleep', '3600']);
    if (r.code !== 0) throw new Error(`${side.name}: docker run: ${r.stderr}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 5000));
  const availAfter = memAvailableKb();
  const daemonsAfter = sum(side.daemons());
  const shims = await side.shims();
  const s = sum(shims.map((x) => x.pid));
  const tasks = shims.reduce((a, x) => a + x.tasks, 0);
  const n = shims.length;
  const row = {
    shims: n, tasks,
    shimRss: s.rss / n, shimPss: s.pss / n, shimPrivate: s.priv / tasks, shimAnon: s.anon / n,
    daemonGrowth: (daemonsAfter.priv - daemonsBefore.priv) / COUNT,
    systemDelta: (availBefore - availAfter) / COUNT,
    startSeconds: seconds,
  };
  console.log(`\n${side.name}: ${COUNT} containers started in ${seconds.toFixed(1)} s; ${tasks} containers in ${n} shim processes`);
  console.log(`  per shim process  RSS ${kb(row.shimRss)}  PSS ${kb(row.shimPss)}  private ${kb(s.priv / n)}  anonymous ${kb(row.shimAnon)}`);
  console.log(`  per container     shim private ${kb(row.shimPrivate)}  daemons' private growth ${kb(row.daemonGrowth)}  marginal ${kb(row.shimPrivate + row.daemonGrowth)}`);
  console.log(`  per container     system MemAvailable drop ${kb(row.systemDelta)} (includes the container itself; noisy)`);
  const ids = (await docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await docker(['rm', '-f', ...ids]);
  return row;
}

/** berth's shim processes under an exec root that hold tasks (a host socket says how many). */
async function berthShims(execRoot: string): Promise<{ pid: number; tasks: number }[]> {
  const out: { pid: number; tasks: number }[] = [];
  for (const p of processes()) {
    if (!/apps\/shim\/dist\/main\.js|berth-shim/.test(p.cmd) || !p.cmd.includes(execRoot)) continue;
    const isHost = !/ --id /.test(p.cmd);
    let tasks = 1;
    if (isHost) {
      const sock = / --socket (\S+)/.exec(p.cmd)?.[1];
      try {
        const c = await ShimClient.connect(sock!, { events: false, timeoutMs: 1000 });
        tasks = c.info.tasks;
        c.close();
      } catch {
        tasks = 0;
      }
    }
    if (tasks > 0) out.push({ pid: p.pid, tasks });
  }
  return out;
}

const tmp = tempDir('berth-bench-shim-mem-');
const env = { ...process.env, DOCKER_CONFIG: path.join(tmp.path, 'docker-config') };
const results: Record<string, Record<string, number>> = {};
const berthd = await startBerthd(path.join(tmp.path, 'berthd'));
try {
  results.berth = await measure({
    name: 'berth (berthd + berth-runtimed + berth-shim)',
    host: berthd.host,
    shims: () => berthShims(berthd.execRoot),
    daemons: () => processes().filter((p) => p.pid === berthd.pid || (p.cmd.includes(berthd.execRoot) && !/apps\/shim\/|berth-shim/.test(p.cmd)))
      .map((p) => p.pid),
  }, env);
} finally {
  await berthd.stop();
}
const dockerd = await startDockerd(path.join(tmp.path, 'dockerd'));
try {
  const execRoot = path.dirname(dockerd.socket);
  results.docker = await measure({
    name: 'docker (dockerd + containerd + containerd-shim-runc-v2)',
    host: dockerd.host,
    shims: async () => processes().filter((p) => p.cmd.startsWith('/usr/bin/containerd-shim-runc-v2') && p.cmd.includes(execRoot))
      .map((p) => ({ pid: p.pid, tasks: 1 })),
    daemons: () => processes().filter((p) => p.pid === dockerd.process.pid || (p.ppid === dockerd.process.pid && p.cmd.includes('containerd'))).map((p) => p.pid),
  }, env);
} finally {
  await dockerd.stop();
  tmp[Symbol.dispose]();
}

/** The shims alone: COUNT tasks through a pool of `perShim` tasks per process, no daemons in between. */
async function directShims(perShim: number, dir: string): Promise<number> {
  const cgroupParent = testCgroupParent();
  const rootfs = unpackRootfs('busybox', path.join(dir, 'rootfs'));
  const pool = new SparePool({ binary: path.join(root, 'apps/shim/dist/main.js'), dir: path.join(dir, 'pool'), size: 1, tasksPerShim: perShim });
  const shims: ShimClient[] = [];
  try {
    await pool.start();
    await pool.waitReady();
    const availBefore = memAvailableKb();
    for (let i = 0; i < COUNT; i++) {
      const id = `d${i}`;
      const bundle = path.join(dir, 'bundles', id);
      mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
      const spec = defaultSpec();
      spec.process!.terminal = false;
      spec.process!.args = ['sleep', '3600'];
      spec.root = { path: rootfs, readonly: true };
      spec.linux!.cgroupsPath = `${cgroupParent}/${id}`;
      writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
      const s = await pool.claim({ id, socket: path.join(dir, 's', `${id}.sock`), stateDir: path.join(dir, 's', id) });
      const log = `jsonfile://${path.join(dir, `${id}.log`)}?max-size=10m&max-file=3`;
      await s.create({ bundle, stdout: log, stderr: log, runtimeRoot: path.join(dir, 'runc') });
      await s.start();
      shims.push(s);
    }
    await new Promise((r) => setTimeout(r, 5000));
    const availAfter = memAvailableKb();
    const pids = [...new Set(shims.map((s) => s.info.pid))];
    const m = sum(pids);
    const perTask = m.priv / COUNT;
    console.log(`
shims alone, ${perShim} task(s) per process: ${COUNT} tasks in ${pids.length} processes`);
    console.log(`  per process    private ${kb(m.priv / pids.length)}  RSS ${kb(m.rss / pids.length)}`);
    console.log(`  per task       shim private ${kb(perTask)}; system MemAvailable drop ${kb((availBefore - availAfter) / COUNT)} (includes the container)`);
    return perTask;
  } finally {
    for (const s of shims) {
      await s.kill(9).catch(() => {});
      await s.wait().catch(() => {});
      await s.delete().catch(() => {});
    }
    await pool.close();
    removeCgroupTree(cgroupParent);
  }
}

const direct: Record<number, number> = {};
const dtmp = tempDir('berth-bench-shim-direct-');
try {
  for (const k of [1, 8, 16]) direct[k] = await directShims(k, path.join(dtmp.path, `k${k}`));
} finally {
  dtmp[Symbol.dispose]();
}

const marginal = (r: Record<string, number>) => r.shimPrivate! + r.daemonGrowth!;
const ratio = marginal(results.berth!) / marginal(results.docker!);
console.log(`\n## per-container marginal memory (shim private + daemons' growth): berth ${kb(marginal(results.berth!))}, docker ${kb(marginal(results.docker!))}`);
console.log(`  berth/docker = ${ratio.toFixed(2)}×; target ≤ 1: ${ratio <= 1 ? 'met' : 'NOT met'}`);
for (const [k, perTask] of Object.entries(direct)) {
  const est = perTask + results.berth!.daemonGrowth!;
  console.log(`  with ${k} task(s) per shim: shim ${kb(perTask)} + daemons ${kb(results.berth!.daemonGrowth!)} = ${kb(est)} per container, berth/docker ≈ ${(est / marginal(results.docker!)).toFixed(2)}×`);
}
