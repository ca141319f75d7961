import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytesSize, fromHumanSize, humanDuration, humanSize, parseDuration, ramInBytes } from './units.ts';

test('human sizes as go-units prints them', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(1983000, 3), '1.98MB');
  assert.equal(humanSize(1983000), '1.983MB');
  assert.equal(humanSize(2048, 3), '2.05kB');
  assert.equal(humanSize(999_500_000, 3), '1e+03MB');
  assert.equal(bytesSize(1536), '1.5KiB');
  assert.equal(bytesSize(25_270_000_000), '23.53GiB');
});

test('durations as docker prints "ago" and "Up …"', () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(59_000), '59 seconds');
  assert.equal(humanDuration(61_000), 'About a minute');
  assert.equal(humanDuration(5 * 60_000), '5 minutes');
  assert.equal(humanDuration(3_600_000), 'About an hour');
  assert.equal(humanDuration(5 * 3_600_000), '5 hours');
  assert.equal(humanDuration(3 * 86_400_000), '3 days');
  assert.equal(humanDuration(20 * 86_400_000), '2 weeks');
  assert.equal(humanDuration(300 * 86_400_000), '10 months');
  assert.equal(humanDuration(800 * 86_400_000), '2 years');
});

test('size and duration parsing for flags', () => {
  assert.equal(ramInBytes('512m'), 512 * 1024 * 1024);
  assert.equal(ramInBytes('1g'), 1024 ** 3);
  assert.equal(ramInBytes('64MB'), 64 * 1024 * 1024);
  assert.equal(ramInBytes('100'), 100);
  assert.throws(() => ramInBytes('lots'));
  assert.equal(fromHumanSize('10GB'), 10_000_000_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('-2h'), -7_200_000);
  assert.throws(() => parseDuration('5'));
});
