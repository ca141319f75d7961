// Thin mount(2)/umount2(2) for callers that may not load the addon themselves (the shim mounts the rootfs
// snapshot into bundle/rootfs before create).
import { runtimeError } from './errors.ts';
import { native } from './native.ts';
import { MS } from './spec/mount-options.ts';

export const MountFlags = MS;

export const UnmountFlags = { FORCE: 1, DETACH: 2, EXPIRE: 4, NOFOLLOW: 8 } as const;

/**
 * mount(2). `data` is the filesystem's option string (e.g. overlay's `lowerdir=…,upperdir=…,workdir=…`; it must
 * fit in one page). Throws an @berth/errdefs error: "mount overlay on /b/rootfs: EINVAL (Invalid argument)".
 */
export function mount(source: string | null, target: string, fstype: string | null, flags = 0, data: string | null = null): void {
  try {
    native().mount(source, target, fstype, flags, data);
  } catch (err) {
    throw runtimeError(err, 'mount');
  }
}

/** umount2(2); `flags` from UnmountFlags (DETACH for a lazy unmount). */
export function unmount(target: string, flags = 0): void {
  try {
    native().unmount(target, flags);
  } catch (err) {
    throw runtimeError(err, 'unmount');
  }
}

/** Sets a pty's window size (TIOCSWINSZ): the shim forwards `docker resize` with it. */
export function resizePty(fd: number, cols: number, rows: number): void {
  try {
    native().resizePty(fd, rows, cols);
  } catch (err) {
    throw runtimeError(err, 'resize pty');
  }
}

/** Sends an fd over a unix socket with SCM_RIGHTS (runc's --console-socket protocol). */
export function sendFd(socketPath: string, fd: number, name = '/dev/ptmx'): void {
  try {
    native().sendFd(socketPath, fd, name);
  } catch (err) {
    throw runtimeError(err, 'send fd');
  }
}

/** pipe2(2) with O_CLOEXEC: [read end, write end] (Node has no pipe()). */
export function pipe(): [number, number] {
  try {
    return native().pipe();
  } catch (err) {
    throw runtimeError(err, 'pipe');
  }
}

/** mkfifo(3). The shim makes its stdin pipes from FIFOs (see apps/shim/src/pipes.ts). */
export function mkfifo(file: string, mode = 0o600): void {
  try {
    native().mkfifo(file, mode);
  } catch (err) {
    throw runtimeError(err, 'mkfifo');
  }
}
