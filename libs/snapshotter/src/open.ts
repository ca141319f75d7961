/** Opening a snapshotter by name, with overlayfs falling back to native where the kernel refuses overlay. */
import path from 'node:path';
import { InvalidArgumentError, isUnavailable } from '@berth/errdefs';
import { NativeSnapshotter } from './native.ts';
import { OverlaySnapshotter } from './overlay.ts';
import type { Snapshotter } from './snapshotter.ts';

export type SnapshotterName = 'overlayfs' | 'native';

/** Opens the snapshotter `name` with its state in `root` (e.g. `<runtimed root>/snapshots/overlayfs`). */
export async function openSnapshotter(name: SnapshotterName, root: string): Promise<Snapshotter> {
  if (name === 'overlayfs') return OverlaySnapshotter.open(root);
  if (name === 'native') return NativeSnapshotter.open(root);
  throw new InvalidArgumentError(`unknown snapshotter ${JSON.stringify(name)} (known: overlayfs, native)`);
}

/**
 * overlayfs under `<base>/overlayfs` when the kernel supports it there, else native under `<base>/native`;
 * returns which one it chose and, on fallback, why.
 */
export async function openDefaultSnapshotter(base: string): Promise<{ name: SnapshotterName; snapshotter: Snapshotter; reason?: string }> {
  try {
    return { name: 'overlayfs', snapshotter: await OverlaySnapshotter.open(path.join(base, 'overlayfs')) };
  } catch (err) {
    if (!isUnavailable(err)) throw err;
    return { name: 'native', snapshotter: await NativeSnapshotter.open(path.join(base, 'native')), reason: (err as Error).message };
  }
}
