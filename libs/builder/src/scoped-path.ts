/**
 * Resolving paths inside a root directory as a process chrooted there would see them: symlinks are followed
 * component by component, absolute link targets restart at the root, `..` never climbs above it
 * (moby/sys/symlink's FollowSymlinkInScope). Used for COPY sources in the context and destinations in the
 * image's filesystem.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '@berth/errdefs';

const MAX_LINKS = 255;

/** The host path `p` (relative or absolute, inside `root`) resolves to; the last component is followed too. */
export function resolveInRoot(root: string, p: string, followLast = true): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  let resolved: string[] = [];
  let links = 0;
  const queue = [...parts];
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = [...resolved, part];
    const host = path.join(root, ...candidate);
    let isLink = false;
    try {
      isLink = lstatSync(host).isSymbolicLink();
    } catch {
      // Missing: the rest of the path is taken as written.
    }
    if (isLink && (followLast || queue.length > 0)) {
      if (++links > MAX_LINKS) throw new InvalidArgumentError(`too many links resolving ${p} in ${root}`);
      const target = readlinkSync(host);
      if (target.startsWith('/')) resolved = [];
      queue.unshift(...target.split('/').filter((s) => s !== '' && s !== '.'));
      continue;
    }
    resolved = candidate;
  }
  return path.join(root, ...resolved);
}
