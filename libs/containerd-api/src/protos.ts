/**
 * Loads containerd's v1 API from the protos that Debian's golang-github-containerd-containerd-dev installs
 * (never copied into this repository) plus berth's own services (./jobs-proto.ts), once per process.
 * One protobufjs Root serves both gRPC (through @grpc/proto-loader) and the encoding of event payloads.
 */
import * as protoLoader from '@grpc/proto-loader';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { BERTH_JOBS_PROTO } from './jobs-proto.ts';

/** Where the containerd API protos live; `BERTH_CONTAINERD_PROTOS` overrides the Debian path. */
export const GOCODE_SRC = process.env.BERTH_GOCODE_SRC ?? '/usr/share/gocode/src';
export const CONTAINERD_API_DIR = path.join(GOCODE_SRC, 'github.com/containerd/containerd/api');

/** Include dirs: containerd's types, gogoproto, google/protobuf (libprotobuf-dev), google/rpc (gogo googleapis). */
export const INCLUDE_DIRS = [
  GOCODE_SRC,
  path.join(GOCODE_SRC, 'github.com/gogo/protobuf'),
  '/usr/include',
  path.join(GOCODE_SRC, 'github.com/gogo/googleapis'),
];

const CONTAINERD_FILES = [
  'services/version/v1/version.proto',
  'services/introspection/v1/introspection.proto',
  'services/namespaces/v1/namespace.proto', // singular in 1.6
  'services/leases/v1/leases.proto',
  'services/containers/v1/containers.proto',
  'services/images/v1/images.proto',
  'services/content/v1/content.proto',
  'services/snapshots/v1/snapshots.proto',
  'services/diff/v1/diff.proto',
  'services/tasks/v1/tasks.proto',
  'services/events/v1/events.proto',
  'events/task.proto',
  'events/container.proto',
  'events/image.proto',
  'events/content.proto',
  'events/snapshot.proto',
  'events/namespace.proto',
].map((f) => path.join(CONTAINERD_API_DIR, f));

/** How messages look in JavaScript: camelCase fields, int64 as number, enums as their names, defaults filled. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

let root: protobuf.Root | undefined;
let packageDefinition: protoLoader.PackageDefinition | undefined;

function resolveInclude(origin: string, target: string): string {
  if (path.isAbsolute(target)) return target;
  for (const dir of INCLUDE_DIRS) {
    const full = path.join(dir, target);
    try {
      accessSync(full, constants.R_OK);
      return full;
    } catch {
      continue;
    }
  }
  throw new Error(`load containerd API protos: ${target} (imported by ${origin}) is in none of ${INCLUDE_DIRS.join(', ')}; `
    + 'install golang-github-containerd-containerd-dev, golang-github-gogo-protobuf-dev, golang-github-gogo-googleapis-dev, libprotobuf-dev');
}

/** The protobufjs root holding every containerd and berth type (for encoding Any payloads such as events). */
export function protoRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = resolveInclude;
  try {
    r.loadSync(CONTAINERD_FILES, { keepCase: false });
    protobuf.parse(BERTH_JOBS_PROTO, r, { keepCase: false });
  } catch (err) {
    throw new Error(`load containerd API protos from ${CONTAINERD_API_DIR}: ${(err as Error).message}`, { cause: err });
  }
  r.resolveAll();
  root = r;
  return r;
}

/** The gRPC package definition (service and message definitions keyed by full name). */
export function grpcPackageDefinition(): protoLoader.PackageDefinition {
  packageDefinition ??= protoLoader.fromJSON(protoRoot().toJSON(), LOADER_OPTIONS);
  return packageDefinition;
}

/** A message type by full name, e.g. `containerd.events.TaskExit`. */
export function messageType(fullName: string): protobuf.Type {
  return protoRoot().lookupType(fullName);
}
