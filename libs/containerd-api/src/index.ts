// Public API of @berth/containerd-api: containerd's v1 protos loaded from the Debian package, typed server
// helpers, berth's own job services (berth.jobs.v1) and the typed client RuntimedClient.
export {
  CONTAINERD_API_DIR, GOCODE_SRC, INCLUDE_DIRS, LOADER_OPTIONS, grpcPackageDefinition, messageType, protoRoot,
} from './protos.ts';
export {
  BERTH_STATS_TYPE_URL, EVENT_TYPES, LINUX_RESOURCES_TYPE_URL, PROCESS_TYPE_URL, SPEC_TYPE_URL,
  fromTimestamp, packJson, packMessage, timestampFromIso, toTimestamp, unpackJson, unpackMessage, type EventTopic,
} from './any.ts';
export {
  LEASE_METADATA, MAX_MESSAGE_BYTES, NAMESPACE_METADATA, addService, bidi, createServer, serverStream, serviceDefinition, unary,
  validateNamespace,
  type BidiCall, type BidiHandler, type CallContext, type ServerHooks, type ServerStreamHandler, type ServiceHandlers, type UnaryHandler,
} from './server.ts';
export { GrpcServer } from './grpc-server.ts';
export {
  RuntimedClient, decodeEnvelope, grpcTarget, type JobStream, type RuntimedClientOptions, type RuntimedEvent,
} from './client.ts';
export type * from './types.ts';
