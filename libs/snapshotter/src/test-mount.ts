// Test helper (not exported): performs the mounts a snapshotter returns with mount(8), and undoes them.
import { execFileSync } from 'node:child_process';
import { compactMountOptions, type Mount } from '@berth/layer-store';

export function mountAll(mounts: Mount[], target: string): void {
  for (const m of mounts) {
    if (m.type === 'bind') {
      execFileSync('mount', ['--rbind', m.source, target]);
      if (m.options.includes('ro')) execFileSync('mount', ['-o', 'remount,bind,ro', target]);
      continue;
    }
    const { cwd, options } = compactMountOptions(m);
    execFileSync('mount', ['-t', m.type, m.source, '-o', options.join(','), target], cwd ? { cwd } : {});
  }
}

export function unmount(target: string): void {
  execFileSync('umount', ['-R', target]);
}

/** Mounts, runs `fn`, always unmounts. */
export async function withMounted<T>(mounts: Mount[], target: string, fn: () => T | Promise<T>): Promise<T> {
  mountAll(mounts, target);
  try {
    return await fn();
  } finally {
    unmount(target);
  }
}
