// `ctr run --rm IMG id true` (the real ctr, Debian containerd 1.6) against berth-runtimed and against a real
// containerd, each on private addresses, roots and states, the image pulled into both, runs alternating.
// Target (issue 6): berth ≤ 0.5× containerd's median. Also the idle resident memory of each daemon (runtimed
// with its private redis-server; containerd alone), measured after the runs have settled.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SHARED_REGISTRY, removeCgroupTree, run, stopProcess, tempDir, testCgroupParent, waitFor } from '@berth/testing';
import { compare } from './harness.ts';

const IMAGE = `${SHARED_REGISTRY}/library/busybox:latest`;
const RUNTIMED = path.resolve(import.meta.dirname, '../../apps/runtimed/dist/main.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 20);

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function privateAnonKb(pid: number): number {
  try {
    const m = /Private_Dirty:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function ctrOk(address: string, args: string[]): Promise<string> {
  const r = await run('ctr', ['--address', address, ...args]);
  if (r.code !== 0) throw new Error(`ctr ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function startDaemon(name: string, cmd: string, args: string[], address: string, logFile: string): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 1 << 20) err = err.slice(-(1 << 19));
  });
  child.on('exit', () => writeFileSync(logFile, err));
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${err.slice(-2000)}`);
    return (await run('ctr', ['--address', address, '--timeout', '1s', 'version'])).code === 0;
  }, `${name} to serve on ${address}`, 30_000, 50);
  return child;
}

async function main(): Promise<void> {
  if (!existsSync(RUNTIMED)) throw new Error(`${RUNTIMED} is not built: npx nx run @berth/runtimed:build`);
  using dir = tempDir('berth-bench-ctr-');
  const cgroupParent = testCgroupParent();
  const fifo = path.join(dir.path, 'fifo');
  mkdirSync(fifo);
  const b = { address: path.join(dir.path, 'runtimed.sock'), root: path.join(dir.path, 'rt-root'), state: path.join(dir.path, 'rt-state') };
  const c = { address: path.join(dir.path, 'containerd.sock'), root: path.join(dir.path, 'cd-root'), state: path.join(dir.path, 'cd-state') };
  const config = path.join(dir.path, 'containerd.toml');
  // Only what ctr needs: no CRI, no TCP.
  writeFileSync(config, [
    'version = 2',
    `root = "${c.root}"`,
    `state = "${c.state}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${c.address}"`,
    '[ttrpc]',
    `  address = "${c.address}.ttrpc"`,
    '',
  ].join('\n'));
  const daemons: ChildProcess[] = [];
  try {
    // Run the bundle itself: its shebang carries runtimed's Node flags (small heap).
    const runtimed = await startDaemon('berth-runtimed', RUNTIMED,
      ['--address', b.address, '--root', b.root, '--state', b.state, '--log-level', 'warn'], b.address, path.join(dir.path, 'runtimed.log'));
    daemons.push(runtimed);
    const containerd = await startDaemon('containerd', 'containerd', ['--config', config, '--log-level', 'warn'], c.address,
      path.join(dir.path, 'containerd.log'));
    daemons.push(containerd);
    for (const d of [b, c]) await ctrOk(d.address, ['images', 'pull', '--plain-http', IMAGE]);

    let n = 0;
    const runOnce = async (address: string) => {
      const id = `bench${n++}`;
      const r = await run('ctr', ['--address', address, 'run', '--rm', '--fifo-dir', fifo, '--cgroup', `${cgroupParent}/${id}`, IMAGE, id, 'true']);
      if (r.code !== 0) throw new Error(`ctr run --rm (${address}): exit ${r.code}: ${r.stderr}`);
    };
    await compare({
      title: 'ctr run --rm busybox true',
      berth: { name: 'berth-runtimed', run: () => runOnce(b.address) },
      references: [{ name: 'containerd', run: () => runOnce(c.address) }],
      runs: RUNS,
      warmup: 3,
      target: { reference: 'containerd', ratio: 0.5 },
    });

    // Idle memory, after the spare shim refilled and both daemons settled.
    await new Promise((r) => setTimeout(r, 3000));
    const redisPid = Number(readFileSync(path.join(b.state, 'redis', 'redis.pid'), 'utf8').trim());
    const rt = rssKb(runtimed.pid!);
    const rd = rssKb(redisPid);
    const cd = rssKb(containerd.pid!);
    const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
    console.log('\n## idle resident memory');
    console.log(`  berth-runtimed           ${mb(rt).padStart(10)}  (private ${mb(privateAnonKb(runtimed.pid!))})`);
    console.log(`  + its redis-server       ${mb(rd).padStart(10)}  (private ${mb(privateAnonKb(redisPid))})`);
    console.log(`  = berth total            ${mb(rt + rd).padStart(10)}`);
    console.log(`  containerd               ${mb(cd).padStart(10)}  (private ${mb(privateAnonKb(containerd.pid!))})`);
    console.log(`  berth/containerd = ${((rt + rd) / cd).toFixed(2)}×`);
  } finally {
    for (const d of daemons.reverse()) await stopProcess(d, 10_000);
    // A gracefully stopped runtimed stops its private redis; be sure, by the pid it recorded.
    try {
      const pid = Number(readFileSync(path.join(b.state, 'redis', 'redis.pid'), 'utf8').trim());
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis-server')) process.kill(pid, 'SIGTERM');
    } catch { /* gone */ }
    try {
      removeCgroupTree(cgroupParent);
    } catch (err) {
      console.error(String(err));
    }
    for (const d of [b.state, c.state]) rmSync(d, { recursive: true, force: true });
  }
}

await main();
