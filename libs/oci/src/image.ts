/**
 * OCI image spec types (descriptor, manifest, index, image config) that also cover Docker's schema 2 (the
 * same shapes with Docker media types and a few extra config fields), Docker schema 1 for detection, and
 * their validation. Validators check the structure and return the value typed; they throw ValidationError
 * saying which field is wrong (`invalid manifest: layers[2].digest: invalid checksum digest format`).
 */
import { isDigest, parseDigest, type Digest } from './digest.ts';
import { ValidationError } from './errors.ts';
import {
  detectManifestMediaType, isIndexMediaType, isManifestMediaType, isSchema1MediaType, isValidMediaType,
  MediaTypeDockerManifest, MediaTypeDockerManifestList, MediaTypeImageIndex, MediaTypeImageManifest,
} from './media-types.ts';
import type { Platform } from './platform.ts';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Embedded content, base64. */
  data?: string;
  platform?: Platform;
  artifactType?: string;
}

/** OCI image manifest, and Docker schema 2 manifest (same shape). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** OCI image index, and Docker manifest list (same shape). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** Docker's health check, kept in the image config by Docker-built images. */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The execution parameters of an image (OCI `config.config`; Docker's ContainerConfig subset). */
export interface ImageExecConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  // Docker extensions.
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  Shell?: string[];
  StopTimeout?: number;
  Hostname?: string;
  Domainname?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Image?: string;
  [extra: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface RootFS {
  type: 'layers';
  diff_ids: Digest[];
}

/** OCI image config (`application/vnd.oci.image.config.v1+json`), plus Docker's extra top-level fields. */
export interface ImageConfig {
  'created'?: string;
  'author'?: string;
  'architecture': string;
  'os': string;
  'os.version'?: string;
  'os.features'?: string[];
  'variant'?: string;
  'config'?: ImageExecConfig;
  'rootfs': RootFS;
  'history'?: HistoryEntry[];
  // Docker extensions.
  'id'?: string;
  'parent'?: string;
  'comment'?: string;
  'container'?: string;
  'container_config'?: ImageExecConfig;
  'docker_version'?: string;
  [extra: string]: unknown;
}

/** Docker image manifest v2 schema 1 (deprecated; only detected, never pulled). */
export interface DockerSchema1Manifest {
  schemaVersion: 1;
  name: string;
  tag: string;
  architecture: string;
  fsLayers: { blobSum: Digest }[];
  history: { v1Compatibility: string }[];
  signatures?: unknown[];
}

/** `oci-layout` file of an image layout directory. */
export interface ImageLayoutHeader {
  imageLayoutVersion: string;
}

export const ImageLayoutFile = 'oci-layout';
export const ImageLayoutVersion = '1.0.0';
export const ImageIndexFile = 'index.json';
export const ImageBlobsDir = 'blobs';

// Well-known annotations.
export const AnnotationRefName = 'org.opencontainers.image.ref.name';
export const AnnotationCreated = 'org.opencontainers.image.created';
export const AnnotationBaseImageName = 'org.opencontainers.image.base.name';
export const AnnotationBaseImageDigest = 'org.opencontainers.image.base.digest';
/** containerd's `ctr export`/`import` puts the full image name here. */
export const AnnotationContainerdImageName = 'io.containerd.image.name';

/** The path of a blob inside an image layout: `blobs/sha256/<hex>`. */
export function layoutBlobPath(d: Digest): string {
  const valid = parseDigest(d);
  const i = valid.indexOf(':');
  return `${ImageBlobsDir}/${valid.slice(0, i)}/${valid.slice(i + 1)}`;
}

// ---- validation ----

type Obj = Record<string, unknown>;

function fail(what: string, path: string, msg: string): never {
  throw new ValidationError(`invalid ${what}: ${path ? `${path}: ` : ''}${msg}`);
}

function asObject(v: unknown, what: string, path: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(what, path, 'must be an object');
  return v as Obj;
}

function optString(o: Obj, key: string, what: string, path: string): void {
  if (o[key] !== undefined && typeof o[key] !== 'string') fail(what, join(path, key), 'must be a string');
}

function optStringArray(o: Obj, key: string, what: string, path: string): void {
  const v = o[key];
  if (v === undefined || v === null) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(what, join(path, key), 'must be an array of strings');
}

function optStringMap(o: Obj, key: string, what: string, path: string): void {
  const v = o[key];
  if (v === undefined || v === null) return;
  const m = asObject(v, what, join(path, key));
  for (const [k, x] of Object.entries(m)) if (typeof x !== 'string') fail(what, `${join(path, key)}.${k}`, 'must be a string');
}

function join(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

function checkDigest(v: unknown, what: string, path: string): void {
  if (typeof v !== 'string') fail(what, path, 'must be a string');
  try {
    parseDigest(v);
  } catch (err) {
    fail(what, path, (err as Error).message);
  }
}

function checkPlatform(v: unknown, what: string, path: string): void {
  const p = asObject(v, what, path);
  if (typeof p.architecture !== 'string' || p.architecture === '') fail(what, join(path, 'architecture'), 'must be a non-empty string');
  if (typeof p.os !== 'string' || p.os === '') fail(what, join(path, 'os'), 'must be a non-empty string');
  optString(p, 'os.version', what, path);
  optString(p, 'variant', what, path);
  optStringArray(p, 'os.features', what, path);
  optStringArray(p, 'features', what, path);
}

function checkDescriptor(v: unknown, what: string, path: string): void {
  const d = asObject(v, what, path);
  if (typeof d.mediaType !== 'string' || !isValidMediaType(d.mediaType)) fail(what, join(path, 'mediaType'), 'must be a valid media type');
  checkDigest(d.digest, what, join(path, 'digest'));
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) fail(what, join(path, 'size'), 'must be a non-negative integer');
  optStringArray(d, 'urls', what, path);
  optStringMap(d, 'annotations', what, path);
  optString(d, 'artifactType', what, path);
  if (d.data !== undefined) {
    if (typeof d.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(d.data)) fail(what, join(path, 'data'), 'must be base64');
    if (Buffer.from(d.data, 'base64').length !== d.size) fail(what, join(path, 'data'), 'length does not match size');
  }
  if (d.platform !== undefined) checkPlatform(d.platform, what, join(path, 'platform'));
}

/** Validates a descriptor. */
export function validateDescriptor(v: unknown, what = 'descriptor'): Descriptor {
  checkDescriptor(v, what, '');
  return v as Descriptor;
}

/** Validates an OCI image manifest or Docker schema 2 manifest. */
export function validateManifest(v: unknown): ImageManifest {
  const what = 'manifest';
  const m = asObject(v, what, '');
  if (m.schemaVersion !== 2) fail(what, 'schemaVersion', 'must be 2');
  if (m.mediaType !== undefined && !(typeof m.mediaType === 'string' && isManifestMediaType(m.mediaType))) {
    fail(what, 'mediaType', `unexpected media type ${String(m.mediaType)}`);
  }
  if (m.mediaType === MediaTypeDockerManifest && m.config === undefined) fail(what, 'config', 'is required');
  checkDescriptor(m.config, what, 'config');
  if (!Array.isArray(m.layers)) fail(what, 'layers', 'must be an array');
  m.layers.forEach((l, i) => checkDescriptor(l, what, join('layers', i)));
  if (m.subject !== undefined) checkDescriptor(m.subject, what, 'subject');
  optStringMap(m, 'annotations', what, '');
  optString(m, 'artifactType', what, '');
  return v as ImageManifest;
}

/** Validates an OCI image index or Docker manifest list. */
export function validateIndex(v: unknown): ImageIndex {
  const what = 'index';
  const m = asObject(v, what, '');
  if (m.schemaVersion !== 2) fail(what, 'schemaVersion', 'must be 2');
  if (m.mediaType !== undefined && !(typeof m.mediaType === 'string' && isIndexMediaType(m.mediaType))) {
    fail(what, 'mediaType', `unexpected media type ${String(m.mediaType)}`);
  }
  if (!Array.isArray(m.manifests)) fail(what, 'manifests', 'must be an array');
  m.manifests.forEach((d, i) => checkDescriptor(d, what, join('manifests', i)));
  if (m.subject !== undefined) checkDescriptor(m.subject, what, 'subject');
  optStringMap(m, 'annotations', what, '');
  return v as ImageIndex;
}

/** Validates an image config (OCI or Docker): os, architecture and rootfs.diff_ids are required. */
export function validateImageConfig(v: unknown): ImageConfig {
  const what = 'image config';
  const c = asObject(v, what, '');
  if (typeof c.architecture !== 'string' || c.architecture === '') fail(what, 'architecture', 'must be a non-empty string');
  if (typeof c.os !== 'string' || c.os === '') fail(what, 'os', 'must be a non-empty string');
  optString(c, 'created', what, '');
  if (typeof c.created === 'string' && Number.isNaN(Date.parse(c.created))) fail(what, 'created', 'must be an RFC 3339 time');
  optString(c, 'author', what, '');
  optString(c, 'variant', what, '');
  optString(c, 'os.version', what, '');
  optStringArray(c, 'os.features', what, '');
  const rootfs = asObject(c.rootfs, what, 'rootfs');
  if (rootfs.type !== 'layers') fail(what, 'rootfs.type', 'must be "layers"');
  if (!Array.isArray(rootfs.diff_ids)) fail(what, 'rootfs.diff_ids', 'must be an array');
  rootfs.diff_ids.forEach((d, i) => checkDigest(d, what, join('rootfs.diff_ids', i)));
  if (c.config !== undefined && c.config !== null) {
    const e = asObject(c.config, what, 'config');
    optString(e, 'User', what, 'config');
    optString(e, 'WorkingDir', what, 'config');
    optString(e, 'StopSignal', what, 'config');
    optStringArray(e, 'Env', what, 'config');
    optStringArray(e, 'Entrypoint', what, 'config');
    optStringArray(e, 'Cmd', what, 'config');
    optStringMap(e, 'Labels', what, 'config');
  }
  if (c.history !== undefined) {
    if (!Array.isArray(c.history)) fail(what, 'history', 'must be an array');
    c.history.forEach((h, i) => {
      const e = asObject(h, what, join('history', i));
      if (e.empty_layer !== undefined && typeof e.empty_layer !== 'boolean') fail(what, join(join('history', i), 'empty_layer'), 'must be a boolean');
    });
  }
  return v as ImageConfig;
}

/** Validates the `oci-layout` header. */
export function validateLayoutHeader(v: unknown): ImageLayoutHeader {
  const h = asObject(v, 'image layout', 'oci-layout');
  if (typeof h.imageLayoutVersion !== 'string') fail('image layout', 'oci-layout.imageLayoutVersion', 'must be a string');
  if (h.imageLayoutVersion.split('.')[0] !== '1') fail('image layout', 'oci-layout.imageLayoutVersion', `unsupported version ${h.imageLayoutVersion}`);
  return v as ImageLayoutHeader;
}

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'schema1'; mediaType: string; schema1: DockerSchema1Manifest };

/**
 * Parses and validates a manifest document (bytes or text). `mediaType` is what the registry or descriptor
 * said; when absent (or a generic JSON type) the content decides. A declared type that contradicts the
 * content's own `mediaType` is refused, as containerd does.
 */
export function parseManifest(data: Uint8Array | string, mediaType?: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  } catch (err) {
    throw new ValidationError(`invalid manifest: ${(err as Error).message}`);
  }
  const detected = detectManifestMediaType(doc);
  const declared = mediaType && mediaType !== 'application/json' && mediaType !== 'text/plain' ? mediaType.split(';')[0]!.trim() : undefined;
  const inner = (doc as { mediaType?: unknown } | null)?.mediaType;
  if (declared && typeof inner === 'string' && inner !== '' && inner !== declared) {
    throw new ValidationError(`invalid manifest: media type ${declared} does not match the document's ${inner}`);
  }
  const mt = declared ?? detected;
  if (mt === undefined) throw new ValidationError('invalid manifest: cannot tell its media type');
  if (isIndexMediaType(mt)) return { kind: 'index', mediaType: mt, index: validateIndex(doc) };
  if (isManifestMediaType(mt)) return { kind: 'manifest', mediaType: mt, manifest: validateManifest(doc) };
  if (isSchema1MediaType(mt)) {
    const s = doc as Partial<DockerSchema1Manifest>;
    if (s.schemaVersion !== 1 || !Array.isArray(s.fsLayers) || s.fsLayers.some((l) => !isDigest(l?.blobSum))) {
      throw new ValidationError('invalid manifest: malformed schema 1 manifest');
    }
    return { kind: 'schema1', mediaType: mt, schema1: doc as DockerSchema1Manifest };
  }
  throw new ValidationError(`invalid manifest: unsupported media type ${mt}`);
}

/** The media type a manifest or index document is served with (its own field, else the OCI default). */
export function manifestMediaType(m: ImageManifest | ImageIndex): string {
  if (m.mediaType) return m.mediaType;
  return 'manifests' in m ? MediaTypeImageIndex : MediaTypeImageManifest;
}

/** Whether an index is a Docker manifest list (vs an OCI index). */
export function isDockerManifestList(m: ImageIndex): boolean {
  return m.mediaType === MediaTypeDockerManifestList;
}
