// The side-by-side benchmark harness. A benchmark names a berth operation and its references (docker, runc,
// crun, containerd, …); the harness runs them alternately (so drift in the machine hits all of them alike),
// reports medians and the ratio berth/reference, and checks the target where one is given.
import { performance } from 'node:perf_hooks';

export interface Contender {
  name: string;
  /** One timed run. Set-up and tear-down that must not count go in before/after. */
  run(): Promise<void>;
  before?(): Promise<void>;
  after?(): Promise<void>;
}

export interface Comparison {
  title: string;
  /** The berth side. */
  berth: Contender;
  /** References that are installed on this machine (omit the ones that are not; say why in `missing`). */
  references: Contender[];
  missing?: string[];
  runs?: number;
  warmup?: number;
  /** Target ratio berth/reference for the first reference (e.g. 0.5 means "at most half of docker's time"). */
  target?: { reference: string; ratio: number };
  unit?: 'ms' | 's';
}

export interface ComparisonResult {
  title: string;
  medians: Record<string, number>;
  ratios: Record<string, number>;
  targetMet?: boolean;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function compare(c: Comparison): Promise<ComparisonResult> {
  const runs = c.runs ?? 20;
  const warmup = c.warmup ?? 2;
  const all = [c.berth, ...c.references];
  const samples = new Map<string, number[]>(all.map((x) => [x.name, []]));
  for (const x of all) await x.before?.();
  try {
    for (let i = 0; i < warmup + runs; i++) {
      for (const x of all) {
        const t0 = performance.now();
        await x.run();
        const dt = performance.now() - t0;
        if (i >= warmup) samples.get(x.name)!.push(dt);
      }
    }
  } finally {
    for (const x of all) await x.after?.();
  }
  const medians = Object.fromEntries([...samples].map(([k, v]) => [k, median(v)]));
  const base = medians[c.berth.name]!;
  const ratios = Object.fromEntries(c.references.map((r) => [r.name, base / medians[r.name]!]));
  const unit = c.unit ?? 'ms';
  const fmt = (ms: number) => (unit === 's' ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
  console.log(`\n## ${c.title} (median of ${runs} alternating runs)`);
  for (const x of all) {
    const ratio = x === c.berth ? '' : `   berth/${x.name} = ${ratios[x.name]!.toFixed(2)}×`;
    console.log(`  ${x.name.padEnd(24)} ${fmt(medians[x.name]!).padStart(12)}${ratio}`);
  }
  for (const m of c.missing ?? []) console.log(`  (not compared: ${m})`);
  let targetMet: boolean | undefined;
  if (c.target && ratios[c.target.reference] !== undefined) {
    targetMet = ratios[c.target.reference]! <= c.target.ratio;
    console.log(`  target berth/${c.target.reference} ≤ ${c.target.ratio}: ${targetMet ? 'met' : 'NOT met'}`);
  }
  return { title: c.title, medians, ratios, ...(targetMet === undefined ? {} : { targetMet }) };
}
