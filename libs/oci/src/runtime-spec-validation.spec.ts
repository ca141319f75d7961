import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from './errors.ts';
import { validateRuntimeSpec } from './runtime-spec-validation.ts';

const good = {
  ociVersion: '1.0.2',
  root: { path: 'rootfs', readonly: true },
  process: { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/', env: ['PATH=/bin'] },
  mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
  linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }], resources: { devices: [{ allow: false, access: 'rwm' }] } },
};

describe('validateRuntimeSpec', () => {
  it('accepts a valid config and returns it typed', () => {
    assert.equal(validateRuntimeSpec(good, { requireProcess: true }).process!.args![0], 'sh');
  });

  const bad: [string, (s: typeof good & Record<string, unknown>) => void, RegExp][] = [
    ['no ociVersion', (s) => delete (s as Partial<typeof good>).ociVersion, /^ociVersion: missing$/],
    ['an unknown namespace type', (s) => s.linux.namespaces.push({ type: 'foo' }), /^linux\.namespaces\[2\]\.type: unknown namespace type "foo"$/],
    ['a duplicate namespace', (s) => s.linux.namespaces.push({ type: 'pid' }), /duplicate namespace type "pid"/],
    ['a relative mount destination', (s) => (s.mounts[0]!.destination = 'proc'), /^mounts\[0\]\.destination: "proc" is not an absolute path$/],
    ['empty args', (s) => (s.process.args = []), /^process\.args: must not be empty$/],
    ['a relative cwd', (s) => (s.process.cwd = 'tmp'), /process\.cwd/],
    ['a uid that is not a number', (s) => ((s.process.user as Record<string, unknown>).uid = '0'), /^process\.user\.uid: must be a number$/],
    ['a device rule without allow', (s) => ((s.linux.resources.devices[0] as Record<string, unknown>).allow = 'no'), /allow: must be a boolean/],
  ];
  for (const [name, mutate, expect] of bad) {
    it(`rejects ${name}`, () => {
      const s = structuredClone(good) as typeof good & Record<string, unknown>;
      mutate(s);
      assert.throws(
        () => validateRuntimeSpec(s, { requireProcess: true }),
        (err: Error) => err instanceof ValidationError && expect.test(err.message),
      );
    });
  }

  it('rejects a value that is not an object', () => {
    assert.throws(() => validateRuntimeSpec('[]'), /config: must be an object/);
  });
});
