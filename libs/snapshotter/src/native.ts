/**
 * The native (copying) snapshotter: every snapshot is a full tree; a child starts as a copy of its parent
 * (`cp -a --reflink=auto`, so copy-on-write filesystems share blocks). Works wherever overlayfs does not.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Mount } from '@berth/layer-store';
import { BaseSnapshotter } from './base.ts';
import type { SnapshotRow } from './metastore.ts';

const run = promisify(execFile);

export class NativeSnapshotter extends BaseSnapshotter {
  /** No rebase: a child's tree is a full copy of its parent's, made at prepare. */
  readonly capabilities = [] as const;
  private constructor(root: string) {
    super(root);
  }

  static async open(root: string): Promise<NativeSnapshotter> {
    const s = new NativeSnapshotter(root);
    await s.cleanup();
    return s;
  }

  protected async populate(dir: string, parent: SnapshotRow | undefined): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!parent) {
      await mkdir(path.join(dir, 'fs'), { mode: 0o755 });
      return;
    }
    try {
      await run('cp', ['-a', '--reflink=auto', this.fsDir(parent.id), path.join(dir, 'fs')]);
    } catch (err) {
      throw new Error(`copy snapshot ${parent.key}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
    }
  }

  protected mountsFor(row: SnapshotRow): Mount[] {
    return [{ type: 'bind', source: this.fsDir(row.id), options: [row.kind === 'view' ? 'ro' : 'rw', 'rbind'] }];
  }
}
