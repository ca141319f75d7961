import { existsSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = '/sys/fs/cgroup';

/**
 * Removes a test's cgroup parent (e.g. `/berth-test-1a2b`) and everything under it from every hierarchy
 * (v1 controllers, the hybrid `unified` mount, or a pure v2 root). Only empty cgroups can be removed; a cgroup
 * that still holds processes is a leak the test should report, so this throws with its path.
 */
export function removeCgroupTree(parent: string): void {
  const rel = parent.replace(/^\/+/, '');
  if (!rel || rel.includes('..')) throw new Error(`refusing to remove cgroup ${parent}`);
  const roots = existsSync(path.join(ROOT, 'cgroup.controllers'))
    ? [ROOT]
    : readdirSync(ROOT).map((d) => path.join(ROOT, d)).filter((d) => statSync(d).isDirectory());
  const failures: string[] = [];
  for (const root of roots) {
    const dir = path.join(root, rel);
    if (existsSync(dir)) removeDepthFirst(dir, failures);
  }
  if (failures.length > 0) throw new Error(`could not remove cgroups (still in use?): ${failures.join(', ')}`);
}

function removeDepthFirst(dir: string, failures: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeDepthFirst(path.join(dir, entry.name), failures);
  }
  try {
    rmdirSync(dir);
  } catch (err) {
    failures.push(`${dir} (${(err as NodeJS.ErrnoException).code})`);
  }
}
