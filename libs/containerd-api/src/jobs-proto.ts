// berth's own gRPC services (package berth.jobs.v1), kept as proto source in TypeScript so that bundles carry it.
// Parsed into the same root as containerd's protos (it uses containerd.types.Descriptor).
export const BERTH_JOBS_PROTO = `
// berth's own services beside containerd's v1 API. containerd 1.6 pulls client-side (ctr, the Go client);
// berth pulls and pushes server-side, as queue jobs, so the engine only streams their progress.
// The namespace comes from the \`containerd-namespace\` metadata, as for containerd's services.
syntax = "proto3";

package berth.jobs.v1;

import "github.com/containerd/containerd/api/types/descriptor.proto";

service Pull {
  // Resolves \`ref\`, fetches its blobs into the content store and unpacks the layers into snapshots, then
  // creates or updates the image record. Streams progress until the job ends; a failed job ends the stream
  // with the error's gRPC status. Concurrent pulls of the same ref/platform in a namespace share one job.
  rpc Pull(PullRequest) returns (stream Progress);
}

service Push {
  // Uploads the image named \`name\` (an image record in the namespace) to \`ref\` (default: \`name\`).
  rpc Push(PushRequest) returns (stream Progress);
}

service GC {
  // Runs a mark-and-sweep garbage collection now (images, containers, leases and gc labels are the roots).
  rpc Collect(CollectRequest) returns (CollectResponse);
}

message RegistryAuth {
  string username = 1;
  string password = 2;
  string identity_token = 3;
  string registry_token = 4;
  string server_address = 5;
}

message PullRequest {
  // Any Docker-style reference: "busybox", "127.0.0.1:5000/library/busybox:latest", "name@sha256:…".
  string ref = 1;
  // "os/arch[/variant]"; empty means the host's platform.
  string platform = 2;
  RegistryAuth auth = 3;
  // Snapshotter to unpack into (default "overlayfs").
  string snapshotter = 4;
  // Fetch only (containerd's \`ctr content fetch\`): do not unpack layers.
  bool skip_unpack = 5;
  // Name of the image record; default: the normalized reference.
  string name = 6;
  map<string, string> labels = 7;
  // Registries reached over plain HTTP (host:port); loopback registries always may be.
  repeated string insecure_registries = 8;
  // Mirrors for docker.io ("http://127.0.0.1:5000").
  repeated string mirrors = 9;
}

message PushRequest {
  string name = 1;
  string ref = 2;
  string platform = 3;
  RegistryAuth auth = 4;
  repeated string insecure_registries = 5;
}

// One progress update. \`id\` names a layer (the 12-hex short digest, as Docker prints it) or is empty for the
// image as a whole; \`status\` is Docker's wording ("Pulling fs layer", "Waiting", "Downloading", "Verifying
// Checksum", "Download complete", "Extracting", "Pull complete", "Already exists", "Pushing", "Pushed",
// "Layer already exists", "Preparing"); \`current\`/\`total\` are bytes where they apply.
message Progress {
  string job_id = 1;
  string id = 2;
  string status = 3;
  int64 current = 4;
  int64 total = 5;
  // Set on the last message of a successful job.
  Result result = 6;
}

message Result {
  // The image record's name and target (pull) or the pushed manifest (push).
  string name = 1;
  containerd.types.Descriptor target = 2;
  // Pull: false when the image was already up to date ("Status: Image is up to date for …").
  bool updated = 3;
}

message CollectRequest {}

message CollectResponse {
  int64 removed_content = 1;
  int64 removed_snapshots = 2;
  int64 removed_ingests = 3;
  int64 duration_ms = 4;
}
`;
