// Persistent network namespaces: one file per namespace under a directory of the caller's (berthd's
// `<exec-root>/netns`), a bind mount of the namespace made by util-linux `unshare --net=FILE`. The namespace
// lives as long as that mount (or a process in it); nothing goes to the shared `/var/run/netns`.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runTool } from './exec.ts';

export class NetnsDir {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  path(id: string): string {
    return path.join(this.dir, id);
  }

  /** The empty file a new namespace is bound onto (see plumbing.ts createNamespace). */
  prepare(id: string): string {
    const file = this.path(id);
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(file, '');
    return file;
  }

  /** Whether `file` is a live namespace mount (after a host reboot the files are gone, after a crash maybe not). */
  isMounted(file: string): boolean {
    return mountedPaths().has(file);
  }

  /** Unmounts and removes the namespace file; its interfaces go with it once no process is left inside. */
  async remove(file: string): Promise<void> {
    if (existsSync(file)) {
      if (this.isMounted(file)) {
        await runTool('umount', ['--lazy', file], { what: `unmount network namespace ${file}` });
      }
      rmSync(file, { force: true });
    }
  }
}

function mountedPaths(): Set<string> {
  const set = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint) set.add(mountPoint.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return set;
}
