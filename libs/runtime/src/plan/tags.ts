// Mirror of native/src/common/protocol.h (plan tags, mount kinds, device tags, sync message types).
// tags.spec.ts checks every number against the header.

export const PlanTag = {
  MODE: 1, CGROUP_PROCS: 2, NS_JOIN: 3, CLONE_FLAGS: 4, UID_MAP: 5, GID_MAP: 6, OOM_SCORE_ADJ: 7, ROOTFS: 8,
  ROOTFS_PROPAGATION: 9, READONLY_ROOTFS: 10, NO_PIVOT: 11, MOUNT: 12, DEVICE: 13, MASKED: 15, READONLY_PATH: 16,
  HOSTNAME: 17, DOMAINNAME: 18, SYSCTL: 19, RLIMIT: 20, UID: 21, GID: 22, ADDITIONAL_GID: 23, UMASK: 24, CAPS: 25,
  NO_NEW_PRIVS: 26, SECCOMP_BPF: 27, SECCOMP_FLAGS: 28, ARG: 29, ENV: 30, CWD: 31, TERMINAL: 32, CONSOLE_SIZE: 33,
  FIFO: 34, HOOKS_SYNC: 35, MKDIR_CWD: 36, SETGROUPS: 37, CGROUP_DIR: 38, CGROUP_TASKS: 39,
} as const;

export const PlanMode = { CREATE: 1, EXEC: 2 } as const;

export const MountTag = { KIND: 1, SOURCE: 2, DEST: 3, FSTYPE: 4, FLAGS: 5, PROPAGATION: 6, DATA: 7, TARGET_FILE: 8 } as const;

export const MountKind = { FS: 1, BIND: 2, SYMLINK: 3, REMOUNT: 4 } as const;

export const DeviceTag = { PATH: 1, TYPE: 2, MAJOR: 3, MINOR: 4, MODE: 5, UID: 6, GID: 7, BIND: 8 } as const;

export const SyncType = { EOF: 0, PID: 1, HOOKS: 2, CONTINUE: 3, PTY: 4, READY: 5, ERROR: 6, ERROR_PLAIN: 7, GO: 8 } as const;
