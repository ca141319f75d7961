import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BuildArgs, parseDockerignore, PatternMatcher } from './index.ts';

describe('.dockerignore', () => {
  it('reads patterns as Docker does', () => {
    assert.deepEqual(parseDockerignore('\uFEFF# comment\n  *.log  \n/abs/path\n! keep.log\n\n./dir//sub/\n#!x\n'),
      ['*.log', 'abs/path', '!keep.log', 'dir/sub']);
  });

  it('matches files and parents with the last pattern winning', () => {
    const m = new PatternMatcher(['*.log', '!keep.log', 'build', 'docs/**/*.md', '**/secret', 'a?c', 'tmp/**', '[xy].txt']);
    const cases: [string, boolean][] = [
      ['x.log', true], ['keep.log', false], ['sub/x.log', false], ['build', true], ['build/out/bin', true],
      ['docs/a.md', true], ['docs/x/y/a.md', true], ['docs/a.txt', false], ['secret', true], ['deep/er/secret', true],
      ['abc', true], ['abbc', false], ['tmp/a/b', true], ['tmp', false], ['x.txt', true], ['z.txt', false], ['src/main.c', false],
    ];
    for (const [f, want] of cases) assert.equal(m.matches(f), want, f);
    assert.equal(m.hasExclusions, true);
  });

  it('re-includes below an excluded directory', () => {
    const m = new PatternMatcher(['data', '!data/keep']);
    assert.equal(m.matches('data/drop'), true);
    assert.equal(m.matches('data/keep'), false);
    assert.throws(() => new PatternMatcher(['!']), /illegal exclusion pattern/);
    assert.throws(() => new PatternMatcher(['a[']), /syntax error in pattern/);
  });
});

describe('build args', () => {
  it('scopes args to stages and lets options and meta args give values', () => {
    const opts = new Map<string, string | undefined>([['A', 'from-cli'], ['UNUSED', 'x'], ['HTTP_PROXY', 'http://p']]);
    const global = new BuildArgs(opts);
    global.addMetaArg('V', '1');
    global.addMetaArg('A', 'meta');
    const stage = global.forStage();
    assert.deepEqual([...stage.allAllowed()], [['HTTP_PROXY', 'http://p']]);
    stage.addArg('A', undefined);
    stage.addArg('V', undefined);
    stage.addArg('D', 'def');
    assert.deepEqual(Object.fromEntries(stage.allAllowed()), { A: 'from-cli', V: '1', D: 'def', HTTP_PROXY: 'http://p' });
    assert.deepEqual(stage.filterAllowed(['D=env']).sort(), ['A=from-cli', 'HTTP_PROXY=http://p', 'V=1']);
    assert.equal(stage.isReferencedOrNotBuiltin('HTTP_PROXY'), false);
    global.mergeReferenced(stage);
    assert.deepEqual(global.unused(), ['UNUSED']);
  });
});
