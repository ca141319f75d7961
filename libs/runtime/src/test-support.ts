// Shared by this library's integration tests (not exported): busybox bundles with their own cgroup parent,
// a run-to-completion helper, and leak checks (child processes, cgroups, mounts, fds).
import type { RuntimeSpec } from '@berth/oci';
import { removeCgroupTree, testCgroupParent, unpackRootfs } from '@berth/testing';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { waitExit, type ExitStatus } from './exits.ts';
import { Runtime } from './runtime.ts';
import { defaultSpec } from './spec/default-spec.ts';

export const DOCKER_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export class Fixture {
  readonly dir: string;
  readonly rootfs: string;
  readonly cgroupParent = testCgroupParent();
  readonly rt: Runtime;
  private n = 0;

  constructor(dir: string) {
    this.dir = dir;
    this.rootfs = unpackRootfs('busybox', path.join(dir, 'rootfs'));
    this.rt = new Runtime({ root: path.join(dir, 'state') });
  }

  id(prefix = 'c'): string {
    return `${prefix}${++this.n}-${process.pid}`;
  }

  /** A Docker-like spec (caps, /tmp tmpfs, cgroup mount) for the shared read-only busybox rootfs. */
  spec(id: string, args: string[], mutate?: (s: RuntimeSpec) => void): RuntimeSpec {
    const s = defaultSpec();
    s.root = { path: this.rootfs, readonly: true };
    s.hostname = id.slice(0, 60);
    s.process!.terminal = false;
    s.process!.args = args;
    s.process!.capabilities = { bounding: DOCKER_CAPS, effective: DOCKER_CAPS, permitted: DOCKER_CAPS };
    s.process!.noNewPrivileges = false;
    s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
    s.linux!.cgroupsPath = `${this.cgroupParent}/${id}`;
    mutate?.(s);
    return s;
  }

  bundle(id: string, spec: RuntimeSpec | string): string {
    const b = path.join(this.dir, 'bundles', id);
    mkdirSync(b, { recursive: true });
    writeFileSync(path.join(b, 'config.json'), typeof spec === 'string' ? spec : JSON.stringify(spec));
    return b;
  }

  /** create → start → wait → delete, with stdout/stderr captured in files. */
  async run(
    args: string[], mutate?: (s: RuntimeSpec) => void, hook?: (id: string, pid: number) => Promise<void> | void,
  ): Promise<ExitStatus & { stdout: string; stderr: string; id: string }> {
    const id = this.id();
    const bundle = this.bundle(id, this.spec(id, args, mutate));
    const out = path.join(bundle, 'stdout');
    const err = path.join(bundle, 'stderr');
    const fo = openSync(out, 'w');
    const fe = openSync(err, 'w');
    try {
      const { pid } = await this.rt.create(id, { bundle, stdio: { stdout: fo, stderr: fe } });
      const exited = waitExit(pid);
      await hook?.(id, pid);
      await this.rt.start(id);
      const status = await exited;
      await this.rt.delete(id);
      return { ...status, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8'), id };
    } finally {
      closeSync(fo);
      closeSync(fe);
    }
  }

  cgroupDirs(id: string): string[] {
    return readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h, this.cgroupParent, id));
  }

  /** Force-deletes whatever a failed test left, then removes the cgroup parent. */
  async cleanup(): Promise<void> {
    for (const c of this.rt.list()) await this.rt.delete(c.id, { force: true }).catch(() => {});
    removeCgroupTree(this.cgroupParent);
  }
}

/** Pids whose parent is this process (children the tests may leak). */
export function childPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(d));
    } catch {
      // exited
    }
  }
  return out;
}

export function mountsMentioning(p: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(p));
}

export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

export function exists(p: string): boolean {
  return existsSync(p);
}
