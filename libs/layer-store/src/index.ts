// Public API of @berth/layer-store. Exports only through this file.
export type {
  ContentStore, ContentInfo, ContentWriter, IngestStatus, WriterOptions, CommitOptions, ReaderAt,
} from './content-store.ts';
export { LocalContentStore, writeFileAtomic, validateLabels, applyLabelUpdate } from './local-content-store.ts';
export { writeBlob, readBlob, type BlobSource, type WriteBlobOptions } from './content-helpers.ts';
export {
  LABEL_GC_ROOT, LABEL_GC_REF_CONTENT, LABEL_GC_REF_SNAPSHOT, LABEL_GC_EXPIRE, LABEL_UNCOMPRESSED,
  LABEL_DISTRIBUTION_SOURCE_PREFIX, LABEL_SNAPSHOT_UNCOMPRESSED, labelReferences, isGcRoot, gcNodeKey, reachable,
  childGcLabels, snapshotGcLabel, type GcNode, type GcGraph, type GcSnapshot,
} from './gc.ts';
export {
  applyLayer, WHITEOUT_PREFIX, WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE, OVERLAY_OPAQUE_XATTR, LowerLayersNeededError, needsLowerLayers,
  settleImplicitDirs, type ApplyOptions, type ApplyResult,
} from './apply.ts';
export { diffLayer, type DiffOptions } from './diff.ts';
export { compressLayer, type CompressedLayer } from './compress.ts';
export { chainID, chainIDs } from './chain-id.ts';
export { whiteoutTemplate, isWhiteoutStat, getXattr, setXattr, listXattrs } from './fs-ops.ts';
export { TarParser, type TarHandler } from './tar-reader.ts';
export { encodeHeader, paddingFor, END_OF_ARCHIVE, TarFormatError, type TarHeader, type EntryType } from './tar-header.ts';
export { applyLayerToMounts, diffMounts, overlayDirs, compactMountOptions, type Mount, type OverlayDirs } from './mounts.ts';
