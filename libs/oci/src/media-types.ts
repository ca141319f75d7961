/** Media types of the OCI image spec and of Docker's image formats, and helpers that classify them. */

// OCI image spec.
export const MediaTypeDescriptor = 'application/vnd.oci.descriptor.v1+json';
export const MediaTypeLayoutHeader = 'application/vnd.oci.layout.header.v1+json';
export const MediaTypeImageIndex = 'application/vnd.oci.image.index.v1+json';
export const MediaTypeImageManifest = 'application/vnd.oci.image.manifest.v1+json';
export const MediaTypeImageConfig = 'application/vnd.oci.image.config.v1+json';
export const MediaTypeEmptyJSON = 'application/vnd.oci.empty.v1+json';
export const MediaTypeImageLayer = 'application/vnd.oci.image.layer.v1.tar';
export const MediaTypeImageLayerGzip = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MediaTypeImageLayerZstd = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const MediaTypeImageLayerNonDistributable = 'application/vnd.oci.image.layer.nondistributable.v1.tar';
export const MediaTypeImageLayerNonDistributableGzip = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
export const MediaTypeImageLayerNonDistributableZstd = 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd';

// Docker image manifest v2 schema 2 (and the deprecated schema 1).
export const MediaTypeDockerManifest = 'application/vnd.docker.distribution.manifest.v2+json';
export const MediaTypeDockerManifestList = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MediaTypeDockerSchema1Manifest = 'application/vnd.docker.distribution.manifest.v1+json';
export const MediaTypeDockerSchema1SignedManifest = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
export const MediaTypeDockerImageConfig = 'application/vnd.docker.container.image.v1+json';
export const MediaTypeDockerLayer = 'application/vnd.docker.image.rootfs.diff.tar';
export const MediaTypeDockerLayerGzip = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** Not in Docker's spec, but containerd and buildkit write it. */
export const MediaTypeDockerLayerZstd = 'application/vnd.docker.image.rootfs.diff.tar.zstd';
export const MediaTypeDockerForeignLayer = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
export const MediaTypeDockerPluginConfig = 'application/vnd.docker.plugin.v1+json';

// Attestations that buildkit attaches to indexes (platform unknown/unknown).
export const MediaTypeInToto = 'application/vnd.in-toto+json';
export const AnnotationDockerReferenceType = 'vnd.docker.reference.type';
export const AnnotationDockerReferenceDigest = 'vnd.docker.reference.digest';

export type Compression = 'none' | 'gzip' | 'zstd';

export function isIndexMediaType(mt: string): boolean {
  return mt === MediaTypeImageIndex || mt === MediaTypeDockerManifestList;
}

export function isManifestMediaType(mt: string): boolean {
  return mt === MediaTypeImageManifest || mt === MediaTypeDockerManifest;
}

export function isSchema1MediaType(mt: string): boolean {
  return mt === MediaTypeDockerSchema1Manifest || mt === MediaTypeDockerSchema1SignedManifest;
}

export function isConfigMediaType(mt: string): boolean {
  return mt === MediaTypeImageConfig || mt === MediaTypeDockerImageConfig;
}

const layerCompression: Record<string, Compression> = {
  [MediaTypeImageLayer]: 'none',
  [MediaTypeImageLayerGzip]: 'gzip',
  [MediaTypeImageLayerZstd]: 'zstd',
  [MediaTypeImageLayerNonDistributable]: 'none',
  [MediaTypeImageLayerNonDistributableGzip]: 'gzip',
  [MediaTypeImageLayerNonDistributableZstd]: 'zstd',
  [MediaTypeDockerLayer]: 'none',
  [MediaTypeDockerLayerGzip]: 'gzip',
  [MediaTypeDockerLayerZstd]: 'zstd',
  [MediaTypeDockerForeignLayer]: 'gzip',
};

export function isLayerMediaType(mt: string): boolean {
  return mt in layerCompression;
}

/** Non-distributable/foreign layers: not pushed to registries (Docker's `urls` layers). */
export function isNonDistributableMediaType(mt: string): boolean {
  return mt === MediaTypeDockerForeignLayer || mt.startsWith('application/vnd.oci.image.layer.nondistributable.');
}

/** The compression a layer media type declares, or undefined for a media type that is not a layer. */
export function compressionOfMediaType(mt: string): Compression | undefined {
  return layerCompression[mt];
}

/** The layer media type for a compression, in the OCI or Docker family. */
export function layerMediaType(compression: Compression, family: 'oci' | 'docker' = 'oci'): string {
  if (family === 'docker') {
    return compression === 'gzip' ? MediaTypeDockerLayerGzip : compression === 'zstd' ? MediaTypeDockerLayerZstd : MediaTypeDockerLayer;
  }
  return compression === 'gzip' ? MediaTypeImageLayerGzip : compression === 'zstd' ? MediaTypeImageLayerZstd : MediaTypeImageLayer;
}

/** Sniffs compression from the first bytes of a blob: gzip (1f 8b), zstd (28 b5 2f fd), else none. */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** RFC 6838 shape, as the OCI descriptor schema checks it. */
export function isValidMediaType(mt: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/.test(mt);
}

/**
 * The media type of a manifest document from its content, for registries and files that do not say
 * (containerd's and Docker's detection): an explicit `mediaType`, else `manifests` → index,
 * `config`+`layers` → manifest, schemaVersion 1 / `fsLayers` → schema 1. Undefined when nothing fits.
 */
export function detectManifestMediaType(doc: unknown): string | undefined {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const d = doc as Record<string, unknown>;
  if (d.schemaVersion === 1 || Array.isArray(d.fsLayers)) {
    return Array.isArray(d.signatures) ? MediaTypeDockerSchema1SignedManifest : MediaTypeDockerSchema1Manifest;
  }
  if (typeof d.mediaType === 'string' && d.mediaType !== '') return d.mediaType;
  if (Array.isArray(d.manifests)) return MediaTypeImageIndex;
  if (d.config !== undefined && Array.isArray(d.layers)) return MediaTypeImageManifest;
  return undefined;
}
