// `npm test`: lint, typecheck, build and test every project through Nx, against real services, then print
// one summary of all projects (counts, every failing test with its error, every skipped test with why).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

interface Summary {
  project: string;
  pass: number; fail: number; skip: number; todo: number;
  failures: { name: string; file?: string; error: string }[];
  skipped: { name: string; reason: string }[];
}

const root = path.resolve(import.meta.dirname, '../..');
const resultsDir = path.join(root, '.nx/test-results');
rmSync(resultsDir, { recursive: true, force: true });

if (process.env.BERTH_SKIP_SERVICES !== '1') {
  // The shared loopback registry with the project's base images; idempotent and quick when already up.
  const s = spawnSync('bash', [path.join(root, 'tools/setup/services.sh')], { stdio: 'inherit' });
  if (s.status !== 0) {
    console.error('npm test: could not start the test services (tools/setup/services.sh); see above');
    process.exit(1);
  }
}

const targets = process.env.BERTH_TEST_TARGETS ?? 'lint,typecheck,build,test';
const started = Date.now();
const nx = spawnSync(
  path.join(root, 'node_modules/.bin/nx'),
  ['run-many', '-t', ...targets.split(','), '--outputStyle=static', ...process.argv.slice(2)],
  { stdio: 'inherit', cwd: root, env: { ...process.env, BERTH_TEST_RESULTS: resultsDir, NX_DAEMON: 'false' } },
);

const rows: [string, Summary][] = existsSync(resultsDir)
  ? readdirSync(resultsDir).filter((f) => f.endsWith('.json')).sort().map((f) => {
      const text = readFileSync(path.join(resultsDir, f), 'utf8').trim();
      const s = JSON.parse(text) as Summary;
      return [s.project || f, s];
    })
  : [];
const total = { pass: 0, fail: 0, skip: 0, todo: 0 };
console.log('\n================ berth test summary ================');
for (const [name, s] of rows) {
  for (const k of ['pass', 'fail', 'skip', 'todo'] as const) total[k] += s[k];
  console.log(`${s.fail > 0 ? 'FAIL' : 'ok  '}  ${name.padEnd(28)} pass ${s.pass}  fail ${s.fail}  skip ${s.skip}`);
}
for (const [name, s] of rows) {
  for (const f of s.failures) console.log(`\n✖ ${name} › ${f.name}${f.file ? ` (${path.relative(root, f.file)})` : ''}\n  ${f.error.replace(/\n/g, '\n  ')}`);
  for (const k of s.skipped) console.log(`- skipped ${name} › ${k.name}${k.reason ? `: ${k.reason}` : ''}`);
}
const minutes = ((Date.now() - started) / 60000).toFixed(1);
console.log(`\ntotal: pass ${total.pass}  fail ${total.fail}  skip ${total.skip}  todo ${total.todo}  (${minutes} min)`);
const ok = nx.status === 0 && total.fail === 0;
console.log(ok ? 'RESULT: PASS' : `RESULT: FAIL${nx.status !== 0 ? ' (a lint, typecheck, build or test task failed; see its output above)' : ''}`);
process.exit(ok ? 0 : 1);
