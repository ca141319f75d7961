// The shape of the native addon: the only typed seam between TypeScript and C. Callers (libs/runtime only)
// validate arguments before calling. Every function throws a NativeError on failure.

/** What every native failure looks like: `message` = "<what>: <ERRNO> (<strerror>)". */
export interface NativeError extends Error {
  /** errno name, e.g. 'EPERM' */
  code: string;
  errno: number;
  /** what was being done, e.g. 'mount proc on /proc' */
  what: string;
}

export interface ExitStatus {
  /** exit code, or null when killed by a signal */
  exitCode: number | null;
  /** signal number, or null */
  signal: number | null;
}

export interface SyncMessage {
  /** 0 = EOF, else a SYNC_* type from src/common/protocol.h */
  type: number;
  value: number;
  text: string;
  /** an fd passed with SCM_RIGHTS (the pty master), or -1 */
  fd: number;
}

export interface SeccompRule {
  name: string;
  action: number;
  args: { index: number; value: bigint | number; valueTwo: bigint | number; op: number }[];
}

export interface SeccompProfile {
  defaultAction: number;
  architectures: string[];
  syscalls: SeccompRule[];
}

/** Calls `callback` (on the event loop) each time `fd` is readable, until close(). Does not own the fd. */
export class FdWatcher {
  constructor(fd: number, callback: (error: number | null) => void);
  close(): void;
  /** Lets the process exit while this watcher is active. */
  unref(): void;
  ref(): void;
}

/** Spawns berth-nsexec with the plan; returns its pid and the Node end of the sync socket. */
export function spawnHelper(helper: string, plan: Uint8Array, stdio: [number, number, number]): { pid: number; syncFd: number };
/** Spawns the helper ahead of its plan ("parked"): it waits on its sync socket for releaseHelper. */
export function parkHelper(helper: string): { pid: number; syncFd: number };
/** Hands a parked helper its stdio (-1: /dev/null) and plan; from then on it is as if spawnHelper had started it. */
export function releaseHelper(syncFd: number, plan: Uint8Array, stdio: [number, number, number]): void;
/**
 * Spawns `file` (searched in PATH) with posix_spawn — no copy of this process's page tables, unlike fork — and
 * returns its pid: `fds[i]` becomes the child's fd i (-1: /dev/null), signals are reset. The caller reaps it
 * (waitExit).
 */
export function spawnProcess(file: string, argv: string[], env: string[], fds: number[]): number;
/** A close-on-exec memfd holding `contents`, positioned at 0 (a child's stdin, or a file for its output). */
export function memfd(name: string, contents?: Uint8Array): number;
/** One non-blocking receive: a message, {type: 0} at EOF, or null when nothing is waiting. */
export function syncRecv(fd: number): SyncMessage | null;
export function syncSend(fd: number, type: number): void;
/** Sends `fd` over a unix stream socket at `socketPath` (runc's --console-socket protocol). */
export function sendFd(socketPath: string, fd: number, name: string): void;
export function pidfdOpen(pid: number): number;
/** Reaps the child behind a pidfd; null while it runs; throws ECHILD if it is not our child. */
export function pidfdWait(pidfd: number): ExitStatus | null;
export function waitPid(pid: number, nohang: boolean): ExitStatus | null;
/** The pid of an exited child, without reaping it; 0 if none has exited; -1 if there are no children. */
export function peekExited(): number;
export function setSubreaper(): void;
export function eventfd(): number;
export function readEventfd(fd: number): number;
export function resizePty(fd: number, rows: number, cols: number): void;
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
export function unmount(target: string, flags: number): void;
export function mkfifo(path: string, mode: number): void;
/** pipe2(O_CLOEXEC): [read end, write end]. */
export function pipe(): [number, number];
/** Compiles v1-style device rules (last match wins; access bits 1 mknod, 2 read, 4 write; -1 = any) into a cgroup v2
 * BPF device program and attaches it to `cgroupDir`, replacing the one attached before. */
export function attachDeviceFilter(
  cgroupDir: string,
  rules: { type: 'a' | 'b' | 'c'; major: number; minor: number; access: number; allow: boolean }[],
): void;
/** Compiles a seccomp profile to classic BPF (struct sock_filter[]). */
export function compileSeccomp(profile: SeccompProfile): Buffer;

/** Absolute path of the berth-nsexec helper. */
export const helperPath: string;
/** Absolute path of src/common/protocol.h (the plan tags and sync message types). */
export const protocolHeader: string;
