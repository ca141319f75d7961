// Public API of @berth/shim-protocol: the berth-shim control protocol. Exports only through this file.
export { ShimClient, type Attachment, type ConnectOptions, type ShimClientEvents } from './client.ts';
export { SparePool, DEFAULT_TASKS_PER_SHIM, type SparePoolOptions } from './spare-pool.ts';
export { launchShim, checkSocketPath, SHIM_NODE_FLAGS, MAX_SOCKET_PATH, type LaunchShimOptions, type LaunchedShim } from './launch.ts';
export { parseStdio, jsonFileUri, type StdioTarget } from './stdio.ts';
export { encodeFrame, FrameDecoder, MAX_FRAME } from './framing.ts';
export { encodeStreamFrame, StreamDecoder, STREAM_STDIN, STREAM_STDOUT, STREAM_STDERR, STREAM_EXIT, type StreamFrame } from './attach.ts';
export { readRecordedExit, TASK_FILE, EXIT_FILE, EXECS_DIR, SHIM_LOG, type RecordedExit } from './state-files.ts';
export {
  PROTOCOL_VERSION, METHODS,
  type ProcessStatus, type ExitStatus, type StdioConfig, type RootfsMount, type HelloParams, type HelloResult,
  type ClaimParams, type ClaimResult, type CreateParams, type PidResult, type ExecIdParams, type ProcessState,
  type KillParams, type DeleteResult, type ExecParams, type ResizeParams, type PidInfo, type UpdateParams,
  type ShutdownParams, type AttachParams, type Stats, type Methods, type Method, type ExitEvent, type OomEvent, type LoadEvent,
  type Events, type Topic, type RequestFrame, type ResponseFrame, type EventFrame, type Frame, type WireError,
} from './messages.ts';
