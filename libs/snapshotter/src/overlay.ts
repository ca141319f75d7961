/**
 * The overlayfs snapshotter: each snapshot owns an upper dir (`fs`) and a work dir; an active snapshot mounts
 * as overlay with its ancestors' `fs` dirs as lowers (nearest first), a parentless one as a bind mount. The
 * on-disk ids are small integers so that `compactMountOptions` can fit 100+ lowers in one page.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UnavailableError } from '@berth/errdefs';
import { whiteoutTemplate, type Mount } from '@berth/layer-store';
import { BaseSnapshotter } from './base.ts';
import type { SnapshotRow } from './metastore.ts';

const INDEX_PARAM = '/sys/module/overlay/parameters/index';

/**
 * Checks that the kernel mounts overlayfs with upper and work dirs on `root`'s filesystem (a mount and an
 * unmount in a scratch dir). Returns undefined when it works, else the reason.
 */
export function overlayUnsupportedReason(root: string): string | undefined {
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(path.join(root, 'overlay-check-'));
  try {
    for (const d of ['l1', 'l2', 'u', 'w', 'm']) mkdirSync(path.join(dir, d));
    writeFileSync(path.join(dir, 'l2', 'f'), '');
    const opts = `lowerdir=${dir}/l1:${dir}/l2,upperdir=${dir}/u,workdir=${dir}/w`;
    try {
      execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, path.join(dir, 'm')], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      return (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    }
    try {
      if (!existsSync(path.join(dir, 'm', 'f'))) return 'overlay mount does not show its lower layers';
    } finally {
      execFileSync('umount', [path.join(dir, 'm')]);
    }
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class OverlaySnapshotter extends BaseSnapshotter {
  /**
   * rebase: an upper dir does not depend on its lowers, so a snapshot prepared without a parent can be
   * committed onto any parent (see CommitOptions.parent).
   */
  readonly capabilities = ['rebase'] as const;
  /** A char 0/0 node that whiteouts in upper dirs can be hard-linked to (see @berth/layer-store applyLayer). */
  readonly whiteoutTemplate: string;
  private readonly indexOff: boolean;

  private constructor(root: string) {
    super(root);
    this.whiteoutTemplate = whiteoutTemplate(path.join(root, 'templates'));
    this.indexOff = existsSync(INDEX_PARAM);
  }

  /**
   * Opens (creating) an overlay snapshotter at `root`. Fails with UnavailableError, saying why, when the
   * kernel refuses overlayfs there (callers then fall back to the native snapshotter).
   */
  static async open(root: string, opts: { skipCheck?: boolean } = {}): Promise<OverlaySnapshotter> {
    const reason = opts.skipCheck ? undefined : overlayUnsupportedReason(root);
    if (reason) throw new UnavailableError(`overlayfs snapshotter at ${root}: overlay mounts are not supported here: ${reason}`);
    const s = new OverlaySnapshotter(root);
    await s.cleanup();
    return s;
  }

  protected async populate(dir: string, _parent: SnapshotRow | undefined, kind: 'active' | 'view'): Promise<void> {
    // Two or three mkdir calls: made directly, they cost less than the thread pool's round trips.
    mkdirSync(path.join(dir, 'fs'), { recursive: true, mode: 0o755 });
    if (kind === 'active') mkdirSync(path.join(dir, 'work'), { mode: 0o700 });
  }

  protected mountsFor(row: SnapshotRow): Mount[] {
    const parents = this.meta.ancestors(row);
    if (row.kind === 'view') {
      if (parents.length === 0) return [{ type: 'bind', source: this.fsDir(row.id), options: ['ro', 'rbind'] }];
      if (parents.length === 1) return [{ type: 'bind', source: this.fsDir(parents[0]!.id), options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', options: [...this.base(), `lowerdir=${parents.map((p) => this.fsDir(p.id)).join(':')}`] }];
    }
    if (parents.length === 0) return [{ type: 'bind', source: this.fsDir(row.id), options: ['rw', 'rbind'] }];
    return [{
      type: 'overlay',
      source: 'overlay',
      options: [
        ...this.base(),
        `workdir=${this.workDir(row.id)}`,
        `upperdir=${this.fsDir(row.id)}`,
        `lowerdir=${parents.map((p) => this.fsDir(p.id)).join(':')}`,
      ],
    }];
  }

  private base(): string[] {
    return this.indexOff ? ['index=off'] : [];
  }
}
