// Public API of @berth/oci (imports nothing). Exports only through this file.
export {
  OciError, InvalidDigestError, DigestMismatchError, InvalidReferenceError, InvalidPlatformError, ValidationError,
  type OciErrorCode,
} from './errors.ts';
export {
  SHA256, SHA512, ERR_DIGEST_INVALID_FORMAT, ERR_DIGEST_INVALID_LENGTH, ERR_DIGEST_UNSUPPORTED,
  isSupportedAlgorithm, parseDigest, isDigest, digestAlgorithm, digestEncoded, digestFromEncoded, digestOf,
  createDigester, verifyDigest, DigestStream, digestStream,
  type Digest, type DigestAlgorithm, type Digester,
} from './digest.ts';
export {
  DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX, DEFAULT_TAG, NAME_TOTAL_LENGTH_MAX,
  ERR_REFERENCE_INVALID_FORMAT, ERR_TAG_INVALID_FORMAT, ERR_NAME_CONTAINS_UPPERCASE, ERR_NAME_EMPTY, ERR_NAME_TOO_LONG,
  isImageIdentifier, isValidTag, parseReference, splitDockerDomain, parseNormalizedReference, withDefaultTag,
  parseDockerRef, referenceName, formatReference, familiarName, familiarString, normalizeReference, parseTag,
  type Reference,
} from './reference.ts';
export * from './media-types.ts';
export {
  ImageLayoutFile, ImageLayoutVersion, ImageIndexFile, ImageBlobsDir, AnnotationRefName, AnnotationCreated,
  AnnotationBaseImageName, AnnotationBaseImageDigest, AnnotationContainerdImageName,
  layoutBlobPath, validateDescriptor, validateManifest, validateIndex, validateImageConfig, validateLayoutHeader,
  parseManifest, manifestMediaType, isDockerManifestList,
  type Descriptor, type ImageManifest, type ImageIndex, type ImageConfig, type ImageExecConfig, type HealthConfig,
  type HistoryEntry, type RootFS, type DockerSchema1Manifest, type ImageLayoutHeader, type ParsedManifest,
} from './image.ts';
export {
  normalizeArch, defaultPlatform, normalizePlatform, parsePlatform, formatPlatform, platformMatches,
  compatiblePlatforms, platformMatcher, selectPlatformEntry,
  type Platform, type PlatformMatcher,
} from './platform.ts';
export {
  registryErrorStatus, registryCodeText, formatRegistryErrorEntry, RegistryError, parseRegistryError, registryErrorBody,
  type RegistryErrorCode, type RegistryErrorEntry, type RegistryErrorBody,
} from './distribution.ts';
export {
  RuntimeSpecVersion,
  type RuntimeSpec, type Root, type Mount, type Process, type User, type LinuxCapabilities, type POSIXRlimit, type Hook,
  type Hooks, type LinuxNamespaceType, type LinuxNamespace, type IDMapping, type LinuxDevice, type LinuxDeviceCgroup,
  type LinuxMemory, type LinuxCPU, type LinuxPids, type LinuxWeightDevice, type LinuxThrottleDevice, type LinuxBlockIO,
  type LinuxHugepageLimit, type LinuxResources, type SeccompAction, type SeccompOperator, type LinuxSeccompArg,
  type LinuxSyscall, type LinuxSeccomp, type LinuxPersonality, type Linux, type ContainerStatus, type RuntimeState,
} from './runtime-spec.ts';
export { validateRuntimeSpec } from './runtime-spec-validation.ts';
