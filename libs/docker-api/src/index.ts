// Public API of @berth/docker-api: Docker Engine API types, a typed client (unix socket, TCP, TLS; version
// negotiation; hijacked streams), and the stream formats (multiplexed stdio, JSON lines).
export type * from './types/index.ts';
export { DEFAULT_HOST, parseHost, selectHost, type HostAddress } from './host.ts';
export { ConnectError, Transport, type HttpRequest, type HttpResponse, type RequestBody, type TlsOptions } from './http1.ts';
export {
  DockerClient, MAX_API_VERSION, FALLBACK_API_VERSION, base64UrlPadded, compareVersions, daemonStatus, drain, encodeAuth, encodeFilters,
  encodeQuery, isConnectError, readAll, readText, seg,
  type ClientOptions, type Filters, type Query, type QueryValue, type RequestOptions,
} from './client.ts';
export type { ContainersApi, LogsOptions, AttachOptions, CommitOptions } from './api/containers.ts';
export type { ImagesApi, BuildOptions } from './api/images.ts';
export type { NetworksApi } from './api/networks.ts';
export type { VolumesApi } from './api/volumes.ts';
export type { ExecApi } from './api/exec.ts';
export type { SystemApi } from './api/system.ts';
export {
  Demuxer, StdStream, StreamSystemError, demuxStream, jsonLines, muxFrame,
  MEDIA_TYPE_MULTIPLEXED_STREAM, MEDIA_TYPE_RAW_STREAM, type ByteSource, type JsonReviver, type StdStreamId,
} from './stream.ts';
