import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  familiarName, familiarString, formatReference, InvalidReferenceError, normalizeReference, parseDockerRef,
  parseNormalizedReference, parseReference, parseTag, withDefaultTag,
} from './index.ts';

const D = 'sha256:' + 'a'.repeat(64);

describe('references (Docker normalization)', () => {
  it('normalizes familiar names', () => {
    const cases: [string, string][] = [
      ['busybox', 'docker.io/library/busybox:latest'],
      ['busybox:1.36', 'docker.io/library/busybox:1.36'],
      ['user/app', 'docker.io/user/app:latest'],
      ['index.docker.io/busybox', 'docker.io/library/busybox:latest'],
      ['docker.io/library/busybox', 'docker.io/library/busybox:latest'],
      ['localhost/app', 'localhost/app:latest'],
      ['127.0.0.1:5000/library/busybox:latest', '127.0.0.1:5000/library/busybox:latest'],
      ['example.com/a/b/c:v1', 'example.com/a/b/c:v1'],
      ['Example.com/app', 'Example.com/app:latest'],
      [`busybox@${D}`, `docker.io/library/busybox@${D}`],
      [`host:5000/ns/name:tag@${D}`, `host:5000/ns/name:tag@${D}`],
      ['[::1]:5000/app:x', '[::1]:5000/app:x'],
      ['a_b__c-d---e/x.y', 'docker.io/a_b__c-d---e/x.y:latest'],
    ];
    for (const [input, want] of cases) assert.equal(normalizeReference(input), want, input);
  });

  it('splits into domain, path, tag and digest', () => {
    const r = parseNormalizedReference(`host:5000/ns/name:tag@${D}`);
    assert.deepEqual(r, { domain: 'host:5000', path: 'ns/name', tag: 'tag', digest: D });
    assert.deepEqual(parseReference('busybox'), { domain: '', path: 'busybox' });
  });

  it('formats familiar strings for display', () => {
    assert.equal(familiarString(withDefaultTag(parseNormalizedReference('busybox'))), 'busybox:latest');
    assert.equal(familiarName(parseNormalizedReference('docker.io/user/app')), 'user/app');
    assert.equal(familiarName(parseNormalizedReference('docker.io/library/a/b')), 'library/a/b');
    assert.equal(familiarString(parseNormalizedReference('127.0.0.1:5000/library/busybox:1')), '127.0.0.1:5000/library/busybox:1');
    assert.equal(familiarString(parseNormalizedReference(`busybox@${D}`)), `busybox@${D}`);
  });

  it('parseDockerRef drops the tag when a digest decides', () => {
    assert.equal(formatReference(parseDockerRef(`busybox:1@${D}`)), `docker.io/library/busybox@${D}`);
    assert.equal(formatReference(parseDockerRef('busybox')), 'docker.io/library/busybox:latest');
  });

  it('rejects invalid references with Docker\'s messages', () => {
    const cases: [string, string][] = [
      ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
      ['user/App:v1', 'invalid reference format: repository name (user/App) must be lowercase'],
      ['busybox:', 'invalid reference format'],
      ['busy box', 'invalid reference format'],
      ['busybox:-bad', 'invalid reference format'],
      [':tag', 'invalid reference format'],
      ['a//b', 'invalid reference format'],
      ['busybox:' + 'x'.repeat(129), 'invalid reference format'],
      ['busybox@sha256:abc', 'invalid reference format'],
      ['busybox@sha256:' + 'a'.repeat(63) + 'ab', 'invalid checksum digest length'],
      ['busybox@md5:' + 'a'.repeat(32), 'unsupported digest algorithm'],
      ['a'.repeat(64), `invalid repository name (${'a'.repeat(64)}), cannot specify 64-byte hexadecimal strings`],
      ['example.com/' + 'a'.repeat(250), 'repository name must not be more than 255 characters'],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => parseNormalizedReference(input), (err: unknown) => {
        assert.ok(err instanceof InvalidReferenceError, input);
        assert.equal(err.message, message, input);
        assert.equal(err.code, 'invalid_argument');
        return true;
      });
    }
    assert.throws(() => parseReference(''), /repository name must have at least one component/);
    assert.throws(() => parseReference('Busybox'), /^InvalidReferenceError: repository name must be lowercase$/);
    assert.throws(() => parseTag('-x'), /invalid tag format/);
    assert.equal(parseTag('v1.0_rc-2'), 'v1.0_rc-2');
  });
});
