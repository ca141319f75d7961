// Public API of @berth/snapshotter. Exports only through this file.
export type {
  Snapshotter, SnapshotInfo, SnapshotKind, SnapshotOptions, CommitOptions, SnapshotterCapability, Usage, Mount,
} from './snapshotter.ts';
export { OverlaySnapshotter, overlayUnsupportedReason } from './overlay.ts';
export { NativeSnapshotter } from './native.ts';
export { openSnapshotter, openDefaultSnapshotter, type SnapshotterName } from './open.ts';
export { unpackLayers, LABEL_SNAPSHOT_REF, type UnpackOptions, type UnpackResult } from './unpack.ts';
export { diskUsage } from './usage.ts';
export { DEFERRED_REMOVAL_MS, removeTree } from './remove-tree.ts';
export { compactMountOptions, overlayDirs } from '@berth/layer-store';
