/**
 * TypeScript shapes of containerd's v1 messages as @grpc/proto-loader presents them with LOADER_OPTIONS
 * (camelCase fields, int64 as number, enums as names, every field present with its default).
 * Hand-written from the protos in golang-github-containerd-containerd-dev; only the fields berth uses are
 * documented beyond their names.
 */

export interface Timestamp { seconds: number; nanos: number }
/**
 * google.protobuf.Any: `type_url` names the type, `value` holds its encoding (protobuf, or JSON for OCI specs).
 * The field keeps its proto name: protobufjs defines Any itself, unaffected by the loader's camelCase option.
 */
export interface Any { type_url: string; value: Buffer }
export type Labels = Record<string, string>;
export interface FieldMask { paths: string[] }

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Labels;
}
export interface Mount { type: string; source: string; target: string; options: string[] }
export interface Platform { os: string; architecture: string; variant: string }

export interface Namespace { name: string; labels: Labels }

export interface Lease { id: string; createdAt: Timestamp | null; labels: Labels }
export interface LeaseResource { id: string; type: string }

export interface Image {
  name: string;
  labels: Labels;
  target: Descriptor;
  createdAt: Timestamp | null;
  updatedAt: Timestamp | null;
}

export interface ContainerRuntime { name: string; options: Any | null }
export interface Container {
  id: string;
  labels: Labels;
  image: string;
  runtime: ContainerRuntime | null;
  /** The OCI runtime spec as JSON, type_url `types.containerd.io/opencontainers/runtime-spec/1/Spec`. */
  spec: Any | null;
  snapshotter: string;
  snapshotKey: string;
  createdAt: Timestamp | null;
  updatedAt: Timestamp | null;
  extensions: Record<string, Any>;
}

export interface ContentInfo {
  digest: string;
  size: number;
  createdAt: Timestamp | null;
  updatedAt: Timestamp | null;
  labels: Labels;
}
export interface ContentStatus {
  startedAt: Timestamp | null;
  updatedAt: Timestamp | null;
  ref: string;
  offset: number;
  total: number;
  expected: string;
}
export type WriteAction = 'STAT' | 'WRITE' | 'COMMIT';
export interface WriteContentRequest {
  action: WriteAction;
  ref: string;
  total: number;
  expected: string;
  offset: number;
  data: Buffer;
  labels: Labels;
}
export interface WriteContentResponse {
  action: WriteAction;
  startedAt: Timestamp | null;
  updatedAt: Timestamp | null;
  offset: number;
  total: number;
  digest: string;
}

export type SnapshotKind = 'UNKNOWN' | 'VIEW' | 'ACTIVE' | 'COMMITTED';
export interface SnapshotInfo {
  name: string;
  parent: string;
  kind: SnapshotKind;
  createdAt: Timestamp | null;
  updatedAt: Timestamp | null;
  labels: Labels;
}
export interface SnapshotUsage { size: number; inodes: number }

export type TaskStatus = 'UNKNOWN' | 'CREATED' | 'RUNNING' | 'STOPPED' | 'PAUSED' | 'PAUSING';
export interface Process {
  containerId: string;
  id: string;
  pid: number;
  status: TaskStatus;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  exitStatus: number;
  exitedAt: Timestamp | null;
}
export interface ProcessInfo { pid: number; info: Any | null }
export interface Metric { timestamp: Timestamp | null; id: string; data: Any | null }

export interface CreateTaskRequest {
  containerId: string;
  rootfs: Mount[];
  stdin: string;
  /** A FIFO path (ctr) or a `jsonfile:///path?max-size=…&max-file=…` URI (berthd). */
  stdout: string;
  stderr: string;
  terminal: boolean;
  checkpoint: Descriptor | null;
  options: Any | null;
  runtimePath: string;
}
export interface ExecProcessRequest {
  containerId: string;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  /** The OCI process spec as JSON, type_url `types.containerd.io/opencontainers/runtime-spec/1/Process`. */
  spec: Any | null;
  execId: string;
}
export interface ExitStatus { exitStatus: number; exitedAt: Timestamp | null }
export interface DeleteTaskResponse { id: string; pid: number; exitStatus: number; exitedAt: Timestamp | null }

export interface Envelope { timestamp: Timestamp | null; namespace: string; topic: string; event: Any | null }

export interface Plugin {
  type: string;
  id: string;
  requires: string[];
  platforms: Platform[];
  exports: Labels;
  capabilities: string[];
  initErr: { code: number; message: string } | null;
}

// berth.jobs.v1
export interface RegistryAuth {
  username: string;
  password: string;
  identityToken: string;
  registryToken: string;
  serverAddress: string;
}
export interface PullRequest {
  ref: string;
  platform: string;
  auth: RegistryAuth | null;
  snapshotter: string;
  skipUnpack: boolean;
  name: string;
  labels: Labels;
  insecureRegistries: string[];
  mirrors: string[];
}
export interface PushRequest {
  name: string;
  ref: string;
  platform: string;
  auth: RegistryAuth | null;
  insecureRegistries: string[];
}
export interface JobResult { name: string; target: Descriptor | null; updated: boolean }
export interface Progress {
  jobId: string;
  id: string;
  status: string;
  current: number;
  total: number;
  result: JobResult | null;
}
export interface CollectResponse { removedContent: number; removedSnapshots: number; removedIngests: number; durationMs: number }
