/**
 * `COPY --chown=user[:group]`: names are looked up in the image's own /etc/passwd and /etc/group (numbers are
 * taken as they are); with no group the user string is used as the group too, as the classic builder does.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '@berth/errdefs';
import type { Identity } from './copy.ts';
import { resolveInRoot } from './scoped-path.ts';

function lookup(file: string, name: string, idField: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f[0] === name && f[idField] !== undefined && /^\d+$/.test(f[idField])) return Number(f[idField]);
  }
  return undefined;
}

/** Resolves a `--chown` value against the filesystem mounted at `root`. */
export function parseChown(chown: string, root: string): Identity {
  const parts = chown.split(':');
  if (parts.length > 2) throw new InvalidArgumentError(`invalid chown string format: ${chown}`);
  const userStr = parts[0]!;
  const groupStr = parts.length === 1 ? parts[0]! : parts[1]!;
  const fail = (msg: string) => new InvalidArgumentError(`unable to convert uid/gid chown string to host mapping: ${msg}`);
  let uid: number | undefined = /^-?\d+$/.test(userStr) ? Number(userStr) : undefined;
  if (uid === undefined) {
    uid = lookup(resolveInRoot(root, 'etc/passwd'), userStr, 2);
    if (uid === undefined) throw fail(`can't find uid for user ${userStr}: no such user: ${userStr}`);
  }
  let gid: number | undefined = /^-?\d+$/.test(groupStr) ? Number(groupStr) : undefined;
  if (gid === undefined) {
    gid = lookup(resolveInRoot(root, 'etc/group'), groupStr, 2);
    if (gid === undefined) throw fail(`can't find gid for group ${groupStr}: no such group: ${groupStr}`);
  }
  return { uid, gid };
}
