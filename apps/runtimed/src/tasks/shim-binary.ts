/** Finding berth-shim: the flag, then PATH, then the sibling bundle of this checkout (docs/architecture.md). */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { NotFoundError } from '@berth/errdefs';

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findShim(flag: string): string {
  if (flag) return flag;
  const tried: string[] = [];
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const p = path.join(dir, 'berth-shim');
    tried.push(p);
    if (executable(p)) return p;
  }
  // src/tasks/ (from source) or dist/ (bundled): the repository's apps/ is above either.
  for (const rel of ['../../../shim/dist/main.js', '../../shim/dist/main.js']) {
    const p = path.resolve(import.meta.dirname, rel);
    tried.push(p);
    if (executable(p)) return p;
  }
  throw new NotFoundError(`find berth-shim: not given by --shim and not found at ${tried.join(', ')}`);
}
