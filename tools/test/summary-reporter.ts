// A node:test reporter that writes one JSON summary per project run (counts and failing tests), so that
// tools/test/run.ts can print a single summary for the whole workspace at the end.
import type { TestEvent } from 'node:test/reporters';

interface Failure { name: string; file: string | undefined; error: string }

export default async function* summaryReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  let pass = 0;
  let fail = 0;
  let skip = 0;
  let todo = 0;
  const failures: Failure[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const data = event.data;
    // Suites report too; count only leaves (tests) — but a suite whose own hook failed (before/after) is a
    // failure of its own, and its message is the one that explains the cancelled tests under it.
    if (data.details.type === 'suite') {
      const err = 'error' in data.details ? data.details.error as Error & { failureType?: string; cause?: unknown } : undefined;
      if (event.type === 'test:fail' && err && err.failureType !== 'subtestsFailed') {
        fail++;
        const cause = err.cause instanceof Error ? err.cause.message : String(err.cause ?? err.message);
        failures.push({ name: `${data.name} (suite hook)`, file: data.file, error: cause.split('\n').slice(0, 6).join('\n') });
      }
      continue;
    }
    if (event.type === 'test:pass') {
      if (data.skip !== undefined) {
        skip++;
        skipped.push({ name: data.name, reason: typeof data.skip === 'string' ? data.skip : '' });
      } else if (data.todo !== undefined) {
        todo++;
      } else {
        pass++;
      }
    } else {
      fail++;
      const err = ('error' in data.details ? data.details.error : new Error('failed')) as Error & { cause?: unknown };
      const cause = err.cause instanceof Error ? err.cause.message : String(err.cause ?? err.message);
      failures.push({ name: data.name, file: data.file, error: cause.split('\n').slice(0, 6).join('\n') });
    }
  }
  yield JSON.stringify({ project: process.env.BERTH_TEST_PROJECT ?? '', pass, fail, skip, todo, failures, skipped }) + '\n';
}
