import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compatiblePlatforms, formatPlatform, InvalidPlatformError, normalizePlatform, parsePlatform, platformMatcher,
  platformMatches, selectPlatformEntry, type Platform,
} from './index.ts';

describe('platforms', () => {
  it('parses and normalizes specifiers', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(parsePlatform('linux/armhf'), { os: 'linux', architecture: 'arm' });
    assert.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(parsePlatform('Linux/AMD64/v3'), { os: 'linux', architecture: 'amd64', variant: 'v3' });
    assert.deepEqual(parsePlatform('windows(10.0.17763)/amd64'), { 'os': 'windows', 'architecture': 'amd64', 'os.version': '10.0.17763' });
    assert.equal(parsePlatform('linux').os, 'linux');
    assert.equal(parsePlatform('arm64').architecture, 'arm64');
    assert.equal(formatPlatform(parsePlatform('linux/arm/v6')), 'linux/arm/v6');
    assert.equal(formatPlatform({ 'os': 'windows', 'architecture': 'amd64', 'os.version': '10.0.1' }), 'windows(10.0.1)/amd64');
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'amd64', variant: 'v1' }), { os: 'linux', architecture: 'amd64' });
    assert.throws(() => parsePlatform('nonsense'), (e: unknown) => e instanceof InvalidPlatformError && e.message === '"nonsense": unknown operating system or architecture');
    assert.throws(() => parsePlatform('linux/a b'), InvalidPlatformError);
    assert.throws(() => parsePlatform('a/b/c/d'), /cannot parse platform specifier/);
  });

  it('matches with containerd semantics and picks the best index entry', () => {
    assert.ok(platformMatches({ os: 'linux', architecture: 'x86_64' }, { os: 'linux', architecture: 'amd64', variant: 'v1' }));
    assert.ok(!platformMatches({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }));
    assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm', variant: 'v6' }));
    const v3: Platform = { os: 'linux', architecture: 'amd64', variant: 'v3' };
    assert.deepEqual(compatiblePlatforms(v3).map(formatPlatform), ['linux/amd64/v3', 'linux/amd64/v2', 'linux/amd64', 'linux/386']);
    assert.deepEqual(compatiblePlatforms({ os: 'linux', architecture: 'arm64' }).map(formatPlatform),
      ['linux/arm64', 'linux/arm/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']);
    const m = platformMatcher({ os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.ok(m.match({ os: 'linux', architecture: 'arm', variant: 'v6' }));
    assert.ok(!m.match({ os: 'linux', architecture: 'arm', variant: 'v8' }));

    const entries = [
      { id: 'att', platform: { os: 'unknown', architecture: 'unknown' } },
      { id: '386', platform: { os: 'linux', architecture: '386' } },
      { id: 'arm', platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      { id: 'amd64', platform: { os: 'linux', architecture: 'amd64' } },
      { id: 'noplat' },
    ];
    assert.equal(selectPlatformEntry(entries, { os: 'linux', architecture: 'amd64' })?.id, 'amd64');
    assert.equal(selectPlatformEntry(entries.filter((e) => e.id !== 'amd64'), { os: 'linux', architecture: 'amd64' })?.id, '386');
    assert.equal(selectPlatformEntry(entries, { os: 'linux', architecture: 's390x' }), undefined);
    assert.equal(selectPlatformEntry(entries, { os: 'windows', architecture: 'amd64' }), undefined);
  });
});
