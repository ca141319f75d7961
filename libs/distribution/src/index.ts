// Public API of @berth/distribution: the registry client (resolve, pull, push, login, search), credentials,
// and image archives. Exports only through this file.
export { RegistryClient, type RegistryClientOptions, type ResolveOptions, type ResolveResult, type ContentOptions } from './client.ts';
export type { PullOptions, PullResult, Unpacker, UnpackLayer, LayerContent } from './pull.ts';
export type { PushOptions, PushResult } from './push.ts';
export type { LoginResult, SearchResult } from './login.ts';
export { type ProgressEvent, type ProgressHandler, shortId } from './progress.ts';
export {
  type AuthConfig, type CredentialStore, DOCKER_HUB_SERVER_KEY, serverKey, hostOfServerAddress, normalizeAuthConfig,
  decodeRegistryAuth, encodeRegistryAuth, decodeRegistryConfig, staticCredentials, chainCredentials,
  dockerConfigCredentials, defaultDockerConfigPath, credentialHelperGet,
} from './credentials.ts';
export { parseChallenges, type Challenge } from './challenge.ts';
export { registryErrorCode, registryErrorStatus } from './errors.ts';
export { RegistryHosts, type Endpoint, type HostsOptions, DOCKER_HUB_ENDPOINT } from './hosts.ts';
export { type ImageRecord } from './image-content.ts';
export { saveImages, exportOciLayout, type SaveImage, type SaveOptions, type DockerArchiveManifest } from './save.ts';
export { loadImages, importOciLayout, type LoadOptions, type LoadedImage } from './load.ts';
export { importRootfs, exportFilesystem, type ImportOptions } from './import-rootfs.ts';
export { applyChanges } from './changes.ts';
export { snapshotUnpacker, type SnapshotUnpackerOptions, type UnpackSnapshotter } from './snapshot-unpacker.ts';
export { applyLayerInWorker, type WorkerApplyOptions } from './worker-apply.ts';
