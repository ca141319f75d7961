import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envFromList, ShellLex } from './index.ts';

const env = envFromList(['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'EMPTY=', 'FILE=archive.tar.gz', 'PATHV=/usr/local/bin', 'SPACED=a  b']);
const lex = new ShellLex();
const w = (s: string) => lex.processWord(s, env);

describe('shell word processing', () => {
  it('expands plain and braced variables, keeps unknown ones empty', () => {
    assert.equal(w('$PWD'), '/home');
    assert.equal(w('${PWD}/x'), '/home/x');
    assert.equal(w('he$PWD.x'), 'he/home.x');
    assert.equal(w('${KOREAN}'), '한국어');
    assert.equal(w('$NOPE-x'), '-x');
    assert.equal(w('${NOPE}'), '');
    assert.equal(w('$'), '$');
    assert.equal(w('a$'), 'a$');
    assert.equal(w('$1x'), 'x');
  });

  it('applies the modifiers', () => {
    assert.equal(w('${NOPE:-def}'), 'def');
    assert.equal(w('${EMPTY:-def}'), 'def');
    assert.equal(w('${EMPTY-def}'), '');
    assert.equal(w('${NOPE-def}'), 'def');
    assert.equal(w('${PWD:-def}'), '/home');
    assert.equal(w('${PWD:+alt}'), 'alt');
    assert.equal(w('${EMPTY:+alt}'), '');
    assert.equal(w('${EMPTY+alt}'), 'alt');
    assert.equal(w('${NOPE:+alt}'), '');
    assert.equal(w('${NOPE:-$PWD/x}'), '/home/x');
    assert.equal(w('${PWD:?oops}'), '/home');
    assert.throws(() => w('${NOPE:?must be set}'), /failed to process "\$\{NOPE:\?must be set\}": NOPE: must be set/);
    assert.throws(() => w('${NOPE?}'), /NOPE: is not allowed to be unset/);
    assert.throws(() => w('${EMPTY:?}'), /EMPTY: is not allowed to be empty/);
    assert.equal(w('${FILE%.*}'), 'archive.tar');
    assert.equal(w('${FILE%%.*}'), 'archive');
    assert.equal(w('${FILE#*.}'), 'tar.gz');
    assert.equal(w('${FILE##*.}'), 'gz');
    assert.equal(w('${PATHV/local/x}'), '/usr/x/bin');
    assert.equal(w('${PATHV//\\//:}'), ':usr:local:bin');
  });

  it('refuses bad substitutions as Docker does', () => {
    assert.throws(() => w('${}'), /bad substitution/);
    assert.throws(() => w('${:x}'), /bad substitution/);
    assert.throws(() => w('${PWD'), /missing '}'/);
    assert.throws(() => w('${PWD:%x}'), /unsupported modifier \(:%\) in substitution/);
    assert.throws(() => w('${PWD^x}'), /unsupported modifier \(\^\) in substitution/);
  });

  it('handles quotes and escapes', () => {
    assert.equal(w('"a b"'), 'a b');
    assert.equal(w('\'$PWD\''), '$PWD');
    assert.equal(w('"$PWD"'), '/home');
    assert.equal(w('\\$PWD'), '$PWD');
    assert.equal(w('"\\$PWD"'), '$PWD');
    assert.equal(w('"a\\"b"'), 'a"b');
    assert.equal(w('"a\\nb"'), 'a\\nb');
    assert.equal(w('a\\ b'), 'a b');
    assert.throws(() => w('"abc'), /unexpected end of statement while looking for matching double-quote/);
    assert.throws(() => w('\'abc'), /unexpected end of statement while looking for matching single-quote/);
    const tick = new ShellLex('`');
    assert.equal(tick.processWord('`$PWD \\x', env), '$PWD \\x');
  });

  it('splits words after expansion but keeps quoted spaces', () => {
    assert.deepEqual(lex.processWords('$SPACED "c  d" e\\ f', env), ['a', 'b', 'c  d', 'e f']);
    assert.deepEqual(lex.processWords('  80/tcp   $NOPE 90 ', env), ['80/tcp', '90']);
  });

  it('reports which variables were used', () => {
    const r = lex.process('$PWD ${NOPE:-x}', env);
    assert.deepEqual([...r.matched], ['PWD']);
    assert.deepEqual([...r.unmatched], ['NOPE']);
  });
});
