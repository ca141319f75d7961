// pflag semantics, as docker's users type flags.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Flags } from './flags.ts';
import { HelpRequested, parseArgv } from './parser.ts';

const defs = {
  interactive: Flags.boolean({ char: 'i', description: '' }),
  tty: Flags.boolean({ char: 't', description: '' }),
  detach: Flags.boolean({ char: 'd', description: '' }),
  rm: Flags.boolean({ description: '' }),
  env: Flags.strings({ char: 'e', description: '' }),
  publish: Flags.strings({ char: 'p', description: '' }),
  name: Flags.string({ description: '' }),
  last: Flags.integer({ char: 'n', description: '', default: -1 }),
  network: Flags.string({ description: '', aliases: ['net'] }),
};

describe('parseArgv', () => {
  test('combined short booleans and attached values', () => {
    const r = parseArgv(['-itd', '-p8080:80', '-e=A=1', '-e', 'B=2', 'busybox'], defs);
    assert.equal(r.flags.interactive, true);
    assert.equal(r.flags.tty, true);
    assert.equal(r.flags.detach, true);
    assert.deepEqual(r.flags.publish, ['8080:80']);
    assert.deepEqual(r.flags.env, ['A=1', 'B=2']);
    assert.deepEqual(r.positionals, ['busybox']);
  });

  test('booleans take an optional =value and never the next argument', () => {
    const r = parseArgv(['--rm=false', '-i=true', 'x'], defs);
    assert.equal(r.flags.rm, false);
    assert.equal(r.flags.interactive, true);
    assert.deepEqual(r.positionals, ['x']);
  });

  test('long values with = or separate; aliases; defaults; changed set', () => {
    const r = parseArgv(['--name=web', '--net', 'host', 'img'], defs);
    assert.equal(r.flags.name, 'web');
    assert.equal(r.flags.network, 'host');
    assert.equal(r.flags.last, -1);
    assert.deepEqual([...r.changed].sort(), ['name', 'network']);
  });

  test('interspersed off: everything after the first positional belongs to it', () => {
    const r = parseArgv(['-i', 'busybox', 'ls', '-la', '--rm'], defs, false);
    assert.deepEqual(r.positionals, ['busybox', 'ls', '-la', '--rm']);
    assert.equal(r.flags.rm, false);
  });

  test('interspersed on: flags after positionals, -- ends flags', () => {
    const r = parseArgv(['a', '--rm', 'b', '--', '-i'], defs);
    assert.deepEqual(r.positionals, ['a', 'b', '-i']);
    assert.equal(r.flags.rm, true);
  });

  test('errors with pflag messages', () => {
    assert.throws(() => parseArgv(['--nope'], defs), /^Error: unknown flag: --nope$|unknown flag: --nope/);
    assert.throws(() => parseArgv(['-z'], defs), /unknown shorthand flag: 'z' in -z/);
    assert.throws(() => parseArgv(['-n'], defs), /flag needs an argument: 'n' in -n/);
    assert.throws(() => parseArgv(['--name'], defs), /flag needs an argument: --name/);
    assert.throws(() => parseArgv(['-n', 'abc'], defs), /invalid argument "abc" for "-n, --last" flag: strconv.ParseInt: parsing "abc": invalid syntax/);
    assert.throws(() => parseArgv(['--rm=maybe'], defs), /invalid argument "maybe" for "--rm" flag: strconv.ParseBool/);
  });

  test('--help and -h (when -h is not a flag) ask for help', () => {
    assert.throws(() => parseArgv(['--help'], defs), HelpRequested);
    assert.throws(() => parseArgv(['-h'], defs), HelpRequested);
  });
});
