// Runs one project's tests (every src/**/*.spec.ts) with node:test: the spec reporter on stdout and a JSON
// summary for tools/test/run.ts. Invoked as the `test` script of each workspace package.
import { spawnSync } from 'node:child_process';
import { globSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const cwd = process.cwd();
const name = (JSON.parse(readFileSync(path.join(cwd, 'package.json'), 'utf8')) as { name: string }).name;
const files = globSync('src/**/*.spec.ts', { cwd }).sort();
if (files.length === 0) {
  console.log(`${name}: no test files`);
  process.exit(0);
}
const resultsDir = process.env.BERTH_TEST_RESULTS ?? path.resolve(import.meta.dirname, '../../.nx/test-results');
mkdirSync(resultsDir, { recursive: true });
const summary = path.join(resultsDir, `${name.replace(/[@/]/g, '_')}.json`);
const args = [
  '--test',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${path.join(import.meta.dirname, 'summary-reporter.ts')}`, `--test-reporter-destination=${summary}`,
  `--test-timeout=${process.env.BERTH_TEST_TIMEOUT ?? '600000'}`,
  ...(process.env.BERTH_TEST_CONCURRENCY ? [`--test-concurrency=${process.env.BERTH_TEST_CONCURRENCY}`] : []),
  ...process.argv.slice(2),
  ...files,
];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd, env: { ...process.env, BERTH_TEST_PROJECT: name } });
process.exit(r.status ?? 1);
