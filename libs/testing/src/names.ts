import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A short random suffix: hex, `n` bytes. */
export function uniqueSuffix(n = 4): string {
  return randomBytes(n).toString('hex');
}

/** A name unique to this test run with a prefix, e.g. `berth-test-1a2b3c4d`. Interface names must stay ≤ 15 chars. */
export function uniqueName(prefix = 'berth-test'): string {
  return `${prefix}-${uniqueSuffix()}`;
}

/** A cgroup parent of its own for one test (relative, as `cgroupsPath` parents are): `/berth-test-<hex>`. */
export function testCgroupParent(): string {
  return `/${uniqueName('berth-test')}`;
}

/** A subnet of its own for one test: a random /24 in 10.200.0.0–10.250.255.0 (tests pick, the kernel checks overlaps). */
export function testSubnet(): { subnet: string; gateway: string; prefix: string } {
  const b = 200 + (randomBytes(1)[0]! % 51);
  const c = randomBytes(1)[0]!;
  return { subnet: `10.${b}.${c}.0/24`, gateway: `10.${b}.${c}.1`, prefix: `10.${b}.${c}` };
}

/** A temp directory removed by the returned disposer (use with `await using` or call `[Symbol.dispose]()`). */
export function tempDir(prefix = 'berth-test-'): { path: string } & Disposable {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { path: dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}
