/** Disk usage of a directory tree: blocks of unique inodes (hard links counted once), and inode count. */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Usage } from './snapshotter.ts';

export async function diskUsage(root: string): Promise<Usage> {
  const seen = new Set<string>();
  let size = 0;
  let inodes = 0;
  const visit = async (p: string): Promise<void> => {
    const st = await lstat(p);
    const key = `${st.dev}:${st.ino}`;
    if (!seen.has(key)) {
      seen.add(key);
      inodes++;
      size += st.blocks * 512;
    }
    if (st.isDirectory()) {
      for (const name of await readdir(p)) await visit(path.join(p, name));
    }
  };
  await visit(root);
  return { size, inodes };
}
