import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PatternMatcher } from './dockerignore.ts';

test('.dockerignore patterns as docker matches them', () => {
  const m = new PatternMatcher(['# comment', '*.log', 'build/', '!build/keep.txt', '**/tmp', 'docs/*.md', '/abs', 'a?c', '[x-z]file']);
  assert.equal(m.matches('app.log'), true);
  assert.equal(m.matches('sub/app.log'), false, '*.log only matches at the root');
  assert.equal(m.matches('build'), true);
  assert.equal(m.matches('build/out.o'), true, 'a matched directory excludes its contents');
  assert.equal(m.matches('build/keep.txt'), false, 'exceptions re-include');
  assert.equal(m.matches('tmp'), true);
  assert.equal(m.matches('a/b/tmp/x'), true, '** crosses directories');
  assert.equal(m.matches('docs/readme.md'), true);
  assert.equal(m.matches('docs/sub/readme.md'), false);
  assert.equal(m.matches('abs'), true, 'a leading slash is the context root');
  assert.equal(m.matches('abc'), true);
  assert.equal(m.matches('yfile'), true);
  assert.equal(m.matches('main.go'), false);
  assert.equal(m.hasExclusions, true);
});
