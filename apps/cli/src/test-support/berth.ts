// Helpers for berth's integration tests: build the bundle once, run `berth` and `docker` side by side, and
// normalize what legitimately differs between two runs (ids, times, the program's own name).
import { run, type RunResult } from '@berth/testing';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const APP_DIR = path.resolve(import.meta.dirname, '../..');
export const BERTH = path.join(APP_DIR, 'dist/main.js');
export const DOCKER = '/usr/local/bin/docker';

let built = false;
/** Builds dist/ from the current sources (once per test process), so tests exercise what users run. */
export function buildBerth(): void {
  if (built) return;
  const r = spawnSync(process.execPath, [path.resolve(APP_DIR, '../../tools/build/bundle.ts')], { cwd: APP_DIR, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building berth failed: ${r.stderr}${r.stdout}`);
  built = true;
}

export function runBerth(args: string[], env: NodeJS.ProcessEnv, input?: string | Buffer): Promise<RunResult> {
  return run(process.execPath, [BERTH, ...args], { env, ...(input !== undefined ? { input } : {}) });
}

export function runDocker(args: string[], env: NodeJS.ProcessEnv, input?: string | Buffer): Promise<RunResult> {
  return run(DOCKER, args, { env, ...(input !== undefined ? { input } : {}) });
}

/** Replaces what differs between two equivalent runs: ids, digests of fresh objects, times, durations. */
export function normalize(s: string): string {
  return s
    .replace(/\b[0-9a-f]{64}\b/g, '<id>')
    .replace(/\b[0-9a-f]{12}\b/g, '<sid>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, '<time>')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} [A-Z]+/g, '<time>')
    .replace(/\b(\d+|About an?|Less than a) (second|minute|hour|day|week|month|year)s?\b/g, '<dur>')
    .replace(/"(IPAddress|Gateway|MacAddress|IPPrefixLen)": "?[^",\n]*"?/g, '"$1": ~')
    .replace(/-(dockr|berth)\b/g, '-X');
}

/** For error messages: the program's name in usage hints. */
export function normalizeErr(s: string): string {
  return normalize(s)
    .replace(/\b(docker|berth)(?= [a-z-]+( [a-z-]+)? --help| [a-z]+ \[| \[OPTIONS\]|: )/g, 'CLI')
    .replace(/'(docker|berth) /g, '\'CLI ')
    .replace(/berth daemon|Docker daemon|docker daemon/g, 'DAEMON');
}
