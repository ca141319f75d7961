/**
 * Reading a container's filesystem without running it. Small files (/etc/passwd, /etc/group) are read straight
 * from the snapshot's directories — the overlay upper dir, then each lower dir, honouring whiteouts — which
 * costs a few stat calls and no mount. Whole-tree work (docker cp, export, diff on a stopped container) mounts
 * the snapshot privately under the exec root and unmounts it afterwards.
 */
import { execFile } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Mount } from '@berth/containerd-api';
import { wrap } from '@berth/errdefs';

const run = promisify(execFile);

/** The directories of a snapshot, top first (overlay: upper, then lowers; bind: the one directory). */
export function layerDirs(mounts: Mount[]): string[] {
  const m = mounts[0];
  if (!m) return [];
  if (m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind')) return [m.source];
  if (m.type === 'overlay') {
    const opt = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
    const upper = opt('upperdir');
    const lowers = opt('lowerdir')?.split(':') ?? [];
    return [...(upper ? [upper] : []), ...lowers];
  }
  return [];
}

/** Reads `rel` (e.g. `etc/passwd`) from the top-most layer that has it; undefined when absent or deleted. */
export function readLayeredFile(dirs: string[], rel: string): string | undefined {
  const parts = rel.split('/').filter(Boolean);
  for (const dir of dirs) {
    // A whiteout of the file or of a parent directory in this layer hides everything below.
    let hidden = false;
    let cur = dir;
    for (let i = 0; i < parts.length; i++) {
      cur = path.join(cur, parts[i]!);
      let st;
      try {
        st = lstatSync(cur);
      } catch {
        break;
      }
      if (st.isCharacterDevice() && st.rdev === 0) {
        hidden = true;
        break;
      }
      if (i === parts.length - 1) {
        if (st.isFile()) return readFileSync(cur, 'utf8');
        if (st.isSymbolicLink()) return undefined; // Not followed: rare for these files, and unsafe to resolve here.
        hidden = true;
      }
    }
    if (hidden) return undefined;
  }
  return undefined;
}

/** Mounts a snapshot at `target` (a private directory under the exec root). */
export async function mountSnapshot(mounts: Mount[], target: string, readOnly = false): Promise<void> {
  mkdirSync(target, { recursive: true, mode: 0o700 });
  const m = mounts[0];
  if (!m) throw new Error('the snapshot has no mounts');
  const opts = [...m.options.filter((o) => o !== 'rbind' && o !== 'bind'), ...(readOnly ? ['ro'] : [])];
  const isBind = m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
  const args = isBind
    ? ['--bind', ...(readOnly ? ['-o', 'ro'] : []), m.source, target]
    : ['-t', m.type, ...(opts.length > 0 ? ['-o', opts.join(',')] : []), m.source || m.type, target];
  try {
    await run('mount', args);
    await run('mount', ['--make-private', target]);
  } catch (err) {
    throw wrap(err, `mount the container's filesystem at ${target}`);
  }
}

export async function unmount(target: string): Promise<void> {
  try {
    await run('umount', [target]);
  } catch {
    try {
      await run('umount', ['-l', target]);
    } catch {
      // Not mounted.
    }
  }
  try {
    rmdirSync(target);
  } catch {
    // Already gone.
  }
}
