/**
 * Applying and producing layers on snapshot mounts without mounting them (what runtimed's Diff service does
 * for `ctr pull` and commits): a bind mount is its source directory; an overlay mount with an `upperdir` is
 * written (apply) or read (diff) directly in the upper dir, with overlay whiteouts.
 */
import type { Readable } from 'node:stream';
import { InvalidArgumentError, NotImplementedError } from '@berth/errdefs';
import { applyLayer, type ApplyOptions, type ApplyResult } from './apply.ts';
import { diffLayer } from './diff.ts';

/** containerd's Mount: a mount(2) call described, not performed. */
export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

export interface OverlayDirs {
  upper?: string;
  work?: string;
  /** Top first, as in the `lowerdir` option. */
  lowers: string[];
}

/** Parses an overlay mount's options into its directories. */
export function overlayDirs(m: Mount): OverlayDirs {
  const out: OverlayDirs = { lowers: [] };
  for (const o of m.options) {
    if (o.startsWith('upperdir=')) out.upper = o.slice('upperdir='.length);
    else if (o.startsWith('workdir=')) out.work = o.slice('workdir='.length);
    else if (o.startsWith('lowerdir=')) out.lowers = o.slice('lowerdir='.length).split(':').filter(Boolean);
  }
  return out;
}

function isBind(m: Mount): boolean {
  return m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
}

function isReadOnly(m: Mount): boolean {
  return m.options.includes('ro');
}

/**
 * Applies a layer onto the writable directory the mounts describe: the source of a single rw bind mount
 * (whiteouts removed), or the upper dir of a single overlay mount (overlay whiteouts, lowers consulted).
 * With `detached`, either directory gets the layer as an overlay upper whose lowers are not looked at (see
 * ApplyOptions.detached): for a parentless snapshot that will be rebased onto its parent at commit.
 */
export async function applyLayerToMounts(source: Readable | AsyncIterable<Uint8Array> | Uint8Array, mounts: Mount[],
  opts: Omit<ApplyOptions, 'whiteouts' | 'lowerDirs'> = {}): Promise<ApplyResult> {
  if (mounts.length !== 1) throw new NotImplementedError(`apply layer: ${mounts.length} mounts; only a single bind or overlay mount is supported`);
  const m = mounts[0]!;
  if (isReadOnly(m)) throw new InvalidArgumentError(`apply layer: mount ${m.source} is read-only`);
  if (isBind(m)) return applyLayer(source, m.source, opts);
  if (m.type === 'overlay' && opts.detached) {
    const d = overlayDirs(m);
    if (!d.upper) throw new InvalidArgumentError('apply layer: overlay mount has no upperdir');
    return applyLayer(source, d.upper, opts);
  }
  if (m.type === 'overlay') {
    const d = overlayDirs(m);
    if (!d.upper) throw new InvalidArgumentError('apply layer: overlay mount has no upperdir');
    return applyLayer(source, d.upper, { ...opts, whiteouts: 'overlay', lowerDirs: d.lowers });
  }
  throw new NotImplementedError(`apply layer: mount type ${m.type} is not supported`);
}

/**
 * The layer tar between two mount sets (containerd's Diff Compare): `upper` an overlay mount → its upper dir
 * is the diff; `upper` a bind mount → compared against `lower` (empty, or a single bind mount).
 */
export function diffMounts(lower: Mount[], upper: Mount[], opts: { sourceDateEpoch?: number } = {}): Readable {
  if (upper.length !== 1) throw new NotImplementedError(`diff: ${upper.length} upper mounts; only one is supported`);
  const u = upper[0]!;
  if (u.type === 'overlay') {
    const d = overlayDirs(u);
    if (!d.upper) throw new InvalidArgumentError('diff: overlay mount has no upperdir');
    return diffLayer({ mode: 'overlay', upper: d.upper, ...opts });
  }
  if (!isBind(u)) throw new NotImplementedError(`diff: mount type ${u.type} is not supported`);
  if (lower.length > 1) throw new NotImplementedError(`diff: ${lower.length} lower mounts; only one is supported`);
  const l = lower[0];
  if (l && !isBind(l)) {
    if (l.type === 'overlay') throw new NotImplementedError('diff: an overlay lower with a bind upper mixes snapshotters');
    throw new NotImplementedError(`diff: mount type ${l.type} is not supported`);
  }
  return diffLayer({ mode: 'trees', upper: u.source, ...(l ? { lower: l.source } : {}), ...opts });
}

/**
 * How to perform an overlay mount whose options may exceed a page (4096 bytes, the mount(2) limit): the
 * longest common directory of upperdir/workdir/lowerdir is returned as `cwd` and the options made relative to
 * it, so the mounter chdirs there first (containerd's compactLowerdirOption). Short numeric snapshot ids keep
 * 128 layers near 1 KiB. Other mounts come back unchanged.
 */
export function compactMountOptions(m: Mount): { cwd?: string; options: string[] } {
  if (m.type !== 'overlay') return { options: m.options };
  const d = overlayDirs(m);
  const dirs = [...d.lowers, ...(d.upper ? [d.upper] : []), ...(d.work ? [d.work] : [])];
  if (dirs.length < 2 || m.options.join(',').length < 2048) return { options: m.options };
  let prefix = dirs[0]!.slice(0, dirs[0]!.lastIndexOf('/') + 1);
  for (const p of dirs) while (!p.startsWith(prefix)) prefix = prefix.slice(0, prefix.lastIndexOf('/', prefix.length - 2) + 1);
  if (prefix.length <= 1) return { options: m.options };
  const rel = (p: string) => p.slice(prefix.length);
  const options = m.options.map((o) => {
    if (o.startsWith('lowerdir=')) return `lowerdir=${d.lowers.map(rel).join(':')}`;
    if (o.startsWith('upperdir=') && d.upper) return `upperdir=${rel(d.upper)}`;
    if (o.startsWith('workdir=') && d.work) return `workdir=${rel(d.work)}`;
    return o;
  });
  return { cwd: prefix.replace(/\/$/, ''), options };
}
