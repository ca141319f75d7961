/**
 * Resolving Docker's `User` (`name`, `uid`, `name:group`, `uid:gid`) against the container's /etc/passwd and
 * /etc/group, with Docker's messages when a name is unknown, plus the user's supplementary groups and
 * `HostConfig.GroupAdd`.
 */
import { InvalidArgumentError } from '@berth/errdefs';

export interface PasswdEntry { name: string; uid: number; gid: number; home: string }
export interface GroupEntry { name: string; gid: number; members: string[] }

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** From passwd; `/` when the user has no entry (what runc sets HOME to). */
  home: string;
}

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (!text) return [];
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] ?? '' });
  }
  return out;
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  if (!text) return [];
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, gid, members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

const isNumeric = (s: string) => /^\d+$/.test(s);

/** Resolves a user spec; `files` are the container's /etc/passwd and /etc/group (undefined when absent). */
export function resolveUser(spec: string, groupAdd: string[], files: { passwd?: string; group?: string }): ResolvedUser {
  const passwd = parsePasswd(files.passwd);
  const groups = parseGroup(files.group);
  const [userPart = '', groupPart] = spec.split(':', 2) as [string, string | undefined];
  const user = userPart === '' ? 'root' : userPart;
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (userPart === '') {
    uid = 0;
    entry = passwd.find((p) => p.uid === 0);
  } else if (isNumeric(user)) {
    uid = Number(user);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === user);
    if (!entry) throw new InvalidArgumentError(`unable to find user ${user}: no matching entries in passwd file`);
    uid = entry.uid;
  }
  if (uid > 0xfffffffe) throw new InvalidArgumentError(`uids and gids must be in range 0-4294967294: ${uid}`);

  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined && groupPart !== '') {
    gid = lookupGroup(groupPart, groups);
  }
  const additional = new Set<number>();
  // Supplementary groups from /etc/group only when no group was given explicitly (as runc/containerd do).
  if (groupPart === undefined || groupPart === '') {
    const name = entry?.name;
    if (name) for (const g of groups) if (g.members.includes(name)) additional.add(g.gid);
  }
  for (const g of groupAdd) additional.add(lookupGroup(g, groups));
  // The primary group is listed too, as containerd's WithAdditionalGIDs does (`id` shows groups=0(root),10(wheel)).
  additional.add(gid);
  return { uid, gid, additionalGids: [...additional].sort((a, b) => (a === gid ? -1 : b === gid ? 1 : a - b)), home: entry?.home || '/' };
}

function lookupGroup(g: string, groups: GroupEntry[]): number {
  if (isNumeric(g)) {
    const n = Number(g);
    if (n > 0xfffffffe) throw new InvalidArgumentError(`uids and gids must be in range 0-4294967294: ${n}`);
    return n;
  }
  const e = groups.find((x) => x.name === g);
  if (!e) throw new InvalidArgumentError(`unable to find group ${g}: no matching entries in group file`);
  return e.gid;
}
