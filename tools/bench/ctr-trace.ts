// Where one `ctr run --rm busybox true` against berth-runtimed spends its time: runtimed runs from its bundle with
// `--log-level trace` (every gRPC call with its duration), the runs are sequential, and each call's median over
// the runs is printed, in the order ctr makes them. Not a benchmark (no reference); a tool for finding the time.
// Run: node tools/bench/ctr-trace.ts [runs] [pause-ms]   (BERTH_SHIM_LOG_LEVEL=debug adds the shim's own lines)
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SHARED_REGISTRY, removeCgroupTree, run, stopProcess, tempDir, testCgroupParent, waitFor } from '@berth/testing';
import { median } from './harness.ts';

const IMAGE = `${SHARED_REGISTRY}/library/busybox:latest`;
const RUNTIMED = path.resolve(import.meta.dirname, '../../apps/runtimed/dist/main.js');
const RUNS = Number(process.argv[2] ?? 12);
const PAUSE = Number(process.argv[3] ?? 300);

interface Line { time: number; method?: string; ms?: number; msg?: string; [k: string]: unknown }

async function main(): Promise<void> {
  if (!existsSync(RUNTIMED)) throw new Error(`${RUNTIMED} is not built`);
  using dir = tempDir('berth-ctr-trace-');
  const cgroupParent = testCgroupParent();
  const fifo = path.join(dir.path, 'fifo');
  mkdirSync(fifo);
  const address = path.join(dir.path, 'runtimed.sock');
  const state = path.join(dir.path, 'state');
  let out = '';
  const child: ChildProcess = spawn(RUNTIMED, ['--address', address, '--root', path.join(dir.path, 'root'), '--state', state, '--log-level', 'trace'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(async () => (await run('ctr', ['--address', address, '--timeout', '1s', 'version'])).code === 0, 'runtimed', 30_000, 50);
    const pull = await run('ctr', ['--address', address, 'images', 'pull', '--plain-http', IMAGE]);
    if (pull.code !== 0) throw new Error(pull.stderr);
    await new Promise((r) => setTimeout(r, 1500));
    const windows: { t0: number; t1: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      const id = `trace${i}`;
      const t0 = Date.now();
      const p0 = performance.now();
      const r = await run('ctr', ['--address', address, 'run', '--rm', '--fifo-dir', fifo, '--cgroup', `${cgroupParent}/${id}`, IMAGE, id, 'true']);
      const wall = performance.now() - p0;
      if (r.code !== 0) throw new Error(`ctr run: ${r.stderr}`);
      windows.push({ t0, t1: Date.now() });
      process.stdout.write(`run ${i}: ${wall.toFixed(1)} ms\n`);
      await new Promise((res) => setTimeout(res, PAUSE));
    }
    const lines: Line[] = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
    const perRun = windows.map((w) => lines.filter((l) => l.time >= w.t0 && l.time <= w.t1 + 5));
    const byMethod = new Map<string, number[]>();
    // The time between the previous call's answer and this call's arrival (ctr's own work; ms resolution).
    const gapBefore = new Map<string, number[]>();
    const order: string[] = [];
    for (const calls of perRun) {
      const seen = new Map<string, number>();
      let lastEnd: number | undefined;
      for (const l of calls) {
        if (l.msg !== 'call' || !l.method) continue;
        const n = (seen.get(l.method) ?? 0) + 1;
        seen.set(l.method, n);
        const key = n > 1 ? `${l.method} #${n}` : l.method;
        if (!byMethod.has(key)) {
          byMethod.set(key, []);
          gapBefore.set(key, []);
          order.push(key);
        }
        byMethod.get(key)!.push(l.ms!);
        if (lastEnd !== undefined) gapBefore.get(key)!.push(l.time - l.ms! - lastEnd);
        lastEnd = Math.max(lastEnd ?? 0, l.time);
      }
    }
    const walls = windows.map((w) => w.t1 - w.t0);
    console.log(`\nmedian wall ${median(walls)} ms over ${RUNS} runs; per call (median ms, in order of completion):`);
    let sum = 0;
    for (const k of order) {
      const m = median(byMethod.get(k)!);
      sum += m;
      const gaps = gapBefore.get(k)!;
      const gap = gaps.length > 0 ? `gap before ${median(gaps).toFixed(1).padStart(5)}` : '';
      console.log(`  ${k.padEnd(60)} ${m.toFixed(1).padStart(7)}  (n=${byMethod.get(k)!.length}) ${gap}`);
    }
    console.log(`  sum of medians ${sum.toFixed(1)} ms`);
    const other = lines.filter((l) => l.msg !== 'call' && l.msg !== undefined && l.level === 10);
    for (const l of other.slice(-12)) console.log('  trace:', JSON.stringify(l));
  } finally {
    await stopProcess(child, 10_000);
    try {
      const pid = Number(readFileSync(path.join(state, 'redis', 'redis.pid'), 'utf8').trim());
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis-server')) process.kill(pid, 'SIGTERM');
    } catch { /* gone */ }
    try {
      removeCgroupTree(cgroupParent);
    } catch (err) {
      console.error(String(err));
    }
    rmSync(state, { recursive: true, force: true });
  }
}

await main();
