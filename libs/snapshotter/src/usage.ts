/**
 * Disk usage of a directory tree: blocks of unique inodes (hard links counted once), and inode count.
 * Synchronous lstat in batches (an async call per entry costs ten times more), yielding to the event loop
 * between batches so a large tree does not stall the daemon.
 */
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Usage } from './snapshotter.ts';

const BATCH = 2000;

export async function diskUsage(root: string): Promise<Usage> {
  const seen = new Set<string>();
  let size = 0;
  let inodes = 0;
  const stack = [root];
  let n = 0;
  while (stack.length) {
    const p = stack.pop()!;
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    const key = `${st.dev}:${st.ino}`;
    if (!seen.has(key)) {
      seen.add(key);
      inodes++;
      size += st.blocks * 512;
    }
    if (st.isDirectory()) for (const name of readdirSync(p)) stack.push(path.join(p, name));
    if (++n % BATCH === 0) await new Promise((r) => setImmediate(r));
  }
  return { size, inodes };
}
