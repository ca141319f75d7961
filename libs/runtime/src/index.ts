/**
 * @berth/runtime — the low-level runtime (runc's role): OCI bundles → containers, over the native addon and
 * its berth-nsexec helper. The only library that loads the addon.
 *
 * Vocabulary: the *init* is the container's first process (pid 1 inside); it is a direct child of the process
 * that called create() (CLONE_PARENT), and blocks after setup until start(). An *exec* is an additional
 * process started in a running container; also a direct child of the caller. Statuses: created (init waiting),
 * running, paused (cgroup frozen), stopped (init gone).
 *
 * Typical in-process use (the shim):
 *
 *   setChildSubreaper();
 *   const reaper = startReaper({ onOrphanExit: … });
 *   const rt = new Runtime({ root: '/run/berth-shim/runtime' });
 *   const { pid } = await rt.create(id, { bundle, stdio: { stdin: 0, stdout: outFd, stderr: errFd } });
 *   const exited = waitExit(pid);      // register before start: the status is kept until collected
 *   await rt.start(id);
 *   const { exitCode, signal, status } = await exited;
 *   await rt.delete(id);
 *
 * Errors are @berth/errdefs classes with messages that say what failed: InvalidArgumentError (bad config),
 * NotFoundError (missing container/bundle/rootfs, `exec: "x": executable file not found in $PATH`),
 * AlreadyExistsError, FailedPreconditionError (wrong state: "cannot delete container x that is not stopped:
 * running"), or the class of the errno for kernel refusals ("mount proc on /proc: EPERM (…)"); errors from
 * the kernel carry `errno` (e.g. 'EPERM').
 */
export {
  Runtime,
  waitGone,
  type RuntimeOptions, type CreateOptions, type ExecOptions, type ProcessHandle, type Stdio, type ContainerState,
  type ContainerStatus,
} from './runtime.ts';
export {
  waitExit, setChildSubreaper, startReaper, markForeign, exitedStatus,
  type ExitStatus, type Reaper, type ReaperOptions,
} from './exits.ts';
export { mount, unmount, resizePty, sendFd, mkfifo, pipe, MountFlags, UnmountFlags } from './mount.ts';
export { parkHelper, unparkHelper } from './launch.ts';
export { writeFileAtomic, writeFileAtomicAsync } from './state.ts';
export { runCaptured, type CapturedRun, type RunCapturedOptions } from './spawn.ts';
export { parseSignal } from './signals.ts';
export {
  detectCgroupLayout, cgroupPathFor, openCgroup, sharesToWeight,
  type Cgroup, type CgroupLayout, type CgroupMode, type CgroupStats, type MemoryEntry, type BlkioEntry,
} from './cgroups/index.ts';
export { capabilityNames, capabilityNumber, CAPABILITY_NAMES } from './spec/capabilities.ts';
export { defaultSpec } from './spec/default-spec.ts';
