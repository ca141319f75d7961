// The messages of the shim control protocol, version 1. Every frame (framing.ts) carries one of:
//
//   request   {t: 'req', id, method, params}      client → shim
//   response  {t: 'res', id, result} | {t: 'res', id, error: {code, message}}
//   event     {t: 'evt', topic, data}             shim → clients that asked for events in `hello`
//
// The first request on a connection must be `hello`; the shim answers with its version and refuses other
// versions. A connection that sends `attach` switches to raw streams after the answer (attach.ts).
// Vocabulary: the *task* is the container's init process (no execId); an *exec* is an extra process in the
// task's container, named by its execId. Times are RFC 3339 with nanoseconds, UTC.
import type { LinuxResources, Process as OciProcess } from '@berth/oci';

export const PROTOCOL_VERSION = 1;

/** A process's lifecycle: created (exists, not started), running, paused (task only), stopped (exited). */
export type ProcessStatus = 'created' | 'running' | 'paused' | 'stopped';

export interface ExitStatus {
  /** Shell style, as containerd reports it: the exit code, 128 + the signal number, or 255 when unknown. */
  status: number;
  /** The exit code, or null when a signal ended the process. */
  exitCode: number | null;
  /** The signal that ended the process ('SIGKILL'), or null. */
  signal: string | null;
  /** The kernel's OOM killer killed a process of the container while this one ran (task only). */
  oomKilled: boolean;
  /** When the process started; empty if it never started. */
  startedAt: string;
  exitedAt: string;
}

/**
 * Where a process's stdio goes. Each field is empty (none) or one of:
 * - an absolute path: a FIFO the shim opens and copies to/from (ctr's style);
 * - `file:///abs/path`: output appended raw to a file;
 * - `jsonfile:///abs/path?max-size=10m&max-file=3`: output written as Docker's json-file log, rotated
 *   (stdout and stderr may name the same file: one writer, each line tagged with its stream).
 * With `terminal`, the shim holds the pty master; its output is the process's stdout and stderr is unused.
 */
export interface StdioConfig {
  stdin?: string;
  stdout?: string;
  stderr?: string;
  terminal?: boolean;
}

/** A mount for the rootfs, containerd's shape (`Tasks/Create` rootfs); mounted onto `<bundle>/rootfs` in order. */
export interface RootfsMount {
  type: string;
  source: string;
  target?: string;
  options?: string[];
}

// ---- requests and their answers ----

export interface HelloParams {
  version: number;
  /** Push events (exit, oom) on this connection. */
  events?: boolean;
}

export interface HelloResult {
  version: number;
  /** The shim process's pid. */
  pid: number;
  /** The task id; empty on a host socket. */
  id: string;
  namespace: string;
  /** This is a host socket: it takes `claim`s (a spare, or a shim process with room for more tasks). */
  spare: boolean;
  /** The task's status, or empty if no task has been created yet (or on a host socket). */
  status: ProcessStatus | '';
  /** Tasks the shim process holds now, and how many it takes in all. */
  tasks: number;
  capacity: number;
}

/**
 * Sent to a host socket: the shim process takes one more task, answering the protocol for it on `socket`
 * with its files in `stateDir` (created; absent or empty). Refused with resource_exhausted when full.
 */
export interface ClaimParams {
  id: string;
  namespace?: string;
  socket: string;
  stateDir: string;
}

export interface ClaimResult {
  pid: number;
}

export interface CreateParams extends StdioConfig {
  /** The bundle directory holding config.json; the rootfs is `<bundle>/rootfs` unless config.json says otherwise. */
  bundle: string;
  /** Mounted onto `<bundle>/rootfs` before create and unmounted on delete (empty: the rootfs is already there). */
  rootfs?: RootfsMount[];
  /** The low-level runtime's state root (berth-runc's --root). */
  runtimeRoot?: string;
  /** Initial terminal size. */
  consoleSize?: { width: number; height: number };
}

export interface PidResult {
  pid: number;
}

export interface ExecIdParams {
  /** Omit for the task itself. */
  execId?: string;
}

export interface ProcessState {
  id: string;
  execId: string;
  /** 0 until the process exists (an exec before its start). */
  pid: number;
  status: ProcessStatus;
  bundle: string;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  /** Set once stopped. */
  exit?: ExitStatus;
}

export interface KillParams extends ExecIdParams {
  /** A number or a name ('SIGTERM', 'TERM', '15'). */
  signal: number | string;
  /** Every process in the container (task only), as `runc kill --all`. */
  all?: boolean;
}

export interface DeleteResult {
  pid: number;
  exit: ExitStatus;
}

export interface ExecParams extends StdioConfig {
  execId: string;
  /** The OCI process to run in the task's container. */
  process: OciProcess;
  consoleSize?: { width: number; height: number };
}

export interface ResizeParams extends ExecIdParams {
  width: number;
  height: number;
}

export interface PidInfo {
  pid: number;
  /** The exec this pid is the main process of, if any. */
  execId?: string;
}

export interface UpdateParams {
  resources: LinuxResources;
}

export interface ShutdownParams {
  /** Exit even with a task that has not been deleted (its processes are killed first). */
  force?: boolean;
}

/**
 * Switches the connection to raw streams for a process's stdio (attach.ts): output as it is produced (not
 * replayed), stdin written to the process. Output to a slow attach client is dropped rather than slowing
 * the container.
 */
export interface AttachParams extends ExecIdParams {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

/** cgroup statistics in runc's `events --stats` shape (see @berth/runtime's CgroupStats). */
export type Stats = Record<string, unknown>;

/** Every method: [params, result]. */
export interface Methods {
  hello: [HelloParams, HelloResult];
  claim: [ClaimParams, ClaimResult];
  create: [CreateParams, PidResult];
  start: [ExecIdParams, PidResult];
  state: [ExecIdParams, ProcessState];
  kill: [KillParams, Record<string, never>];
  delete: [ExecIdParams, DeleteResult];
  exec: [ExecParams, Record<string, never>];
  resizePty: [ResizeParams, Record<string, never>];
  closeStdin: [ExecIdParams, Record<string, never>];
  pids: [Record<string, never>, PidInfo[]];
  pause: [Record<string, never>, Record<string, never>];
  resume: [Record<string, never>, Record<string, never>];
  update: [UpdateParams, Record<string, never>];
  stats: [Record<string, never>, Stats];
  wait: [ExecIdParams, ExitStatus];
  attach: [AttachParams, Record<string, never>];
  shutdown: [ShutdownParams, Record<string, never>];
}

export type Method = keyof Methods;
export const METHODS: readonly Method[] = [
  'hello', 'claim', 'create', 'start', 'state', 'kill', 'delete', 'exec', 'resizePty', 'closeStdin', 'pids',
  'pause', 'resume', 'update', 'stats', 'wait', 'attach', 'shutdown',
];

// ---- events ----

export interface ExitEvent {
  id: string;
  /** Empty for the task itself. */
  execId: string;
  pid: number;
  exit: ExitStatus;
}

export interface OomEvent {
  id: string;
}

/** On a host socket: the number of tasks changed. */
export interface LoadEvent {
  tasks: number;
  capacity: number;
}

export interface Events {
  exit: ExitEvent;
  oom: OomEvent;
  load: LoadEvent;
}

export type Topic = keyof Events;

// ---- frames ----

export interface RequestFrame<M extends Method = Method> {
  t: 'req';
  id: number;
  method: M;
  params: Methods[M][0];
}

export interface WireError {
  /** An @berth/errdefs code ('not_found', 'failed_precondition', …). */
  code: string;
  message: string;
}

export type ResponseFrame = { t: 'res'; id: number; result: unknown } | { t: 'res'; id: number; error: WireError };

export interface EventFrame<T extends Topic = Topic> {
  t: 'evt';
  topic: T;
  data: Events[T];
}

export type Frame = RequestFrame | ResponseFrame | EventFrame;
