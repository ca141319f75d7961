// OCI mount options → mount(2) flags, propagation flags and the data string (runc's table).

export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, SYNCHRONOUS: 0x10, REMOUNT: 0x20, MANDLOCK: 0x40,
  DIRSYNC: 0x80, NOSYMFOLLOW: 0x100, NOATIME: 0x400, NODIRATIME: 0x800, BIND: 0x1000, MOVE: 0x2000, REC: 0x4000,
  SILENT: 0x8000, UNBINDABLE: 0x20000, PRIVATE: 0x40000, SLAVE: 0x80000, SHARED: 0x100000, RELATIME: 0x200000,
  I_VERSION: 0x800000, STRICTATIME: 0x1000000, LAZYTIME: 0x2000000,
} as const;

const SET: Record<string, number> = {
  ro: MS.RDONLY, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, sync: MS.SYNCHRONOUS, remount: MS.REMOUNT,
  mand: MS.MANDLOCK, dirsync: MS.DIRSYNC, nosymfollow: MS.NOSYMFOLLOW, noatime: MS.NOATIME, nodiratime: MS.NODIRATIME,
  bind: MS.BIND, rbind: MS.BIND | MS.REC, silent: MS.SILENT, relatime: MS.RELATIME, iversion: MS.I_VERSION,
  strictatime: MS.STRICTATIME, lazytime: MS.LAZYTIME,
  // recursive read-only: applied to the top mount (the kernel's per-mount flag); see docs/runtime.md
  rro: MS.RDONLY,
};

const CLEAR: Record<string, number> = {
  rw: MS.RDONLY, suid: MS.NOSUID, dev: MS.NODEV, exec: MS.NOEXEC, async: MS.SYNCHRONOUS, nomand: MS.MANDLOCK,
  atime: MS.NOATIME, diratime: MS.NODIRATIME, norelatime: MS.RELATIME, nostrictatime: MS.STRICTATIME,
  loud: MS.SILENT, noiversion: MS.I_VERSION, nolazytime: MS.LAZYTIME, defaults: 0, rrw: MS.RDONLY,
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** Options runc accepts and berth deliberately ignores (SELinux relabel, Docker's tmpfs copy-up). */
const IGNORED = new Set(['tmpcopyup', 'z', 'Z', 'notmpcopyup']);

export interface ParsedMountOptions {
  flags: number;
  propagation: number;
  data: string;
  /** "bind" or "rbind" was present */
  bind: boolean;
}

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const o of options) {
    if (o in SET) flags |= SET[o]!;
    else if (o in CLEAR) flags &= ~CLEAR[o]!;
    else if (o in PROPAGATION) propagation = PROPAGATION[o]!;
    else if (!IGNORED.has(o)) data.push(o);
  }
  return { flags, propagation, data: data.join(','), bind: (flags & MS.BIND) !== 0 };
}

/** rootfsPropagation → flags for "/" (runc: private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable). */
export function parsePropagation(value: string | undefined): number {
  if (!value) return 0;
  const flags = PROPAGATION[value];
  if (flags === undefined) throw new Error(`unknown rootfsPropagation ${JSON.stringify(value)}`);
  return flags;
}
