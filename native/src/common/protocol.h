/*
 * The contract between the addon (in the Node process), the berth-nsexec helper and the container's init:
 * the plan's TLV tags and the sync messages. libs/runtime/src/plan/tags.ts mirrors these numbers (a test
 * compares the two files).
 *
 * Plan: a sequence of records  [u16 tag][u16 0][u32 length][payload, length bytes]  in native byte order.
 * Strings are NUL-terminated inside their payload. Nested records (MOUNT, DEVICE) carry a sub-sequence.
 * The plan reaches the helper as fd 4 (a sealed memfd); fd 3 is the sync socket (SOCK_SEQPACKET).
 *
 * Sync protocol (one socketpair; every message is one packet: struct sync_msg, possibly + SCM_RIGHTS):
 *
 *   Node (addon)                 berth-nsexec (helper)                 container init / exec child
 *   ------------                 ---------------------                 ---------------------------
 *   posix_spawn(helper) ───────► read plan (fd 4), close other fds
 *   (or, spawned ahead with no plan — "parked" — it first waits for SYNC_GO + [stdin, stdout, stderr, plan]
 *    and puts them at 0, 1, 2 and 4; EOF instead means its parent went away, and it exits)
 *                                move itself into the v1 cgroups ("0" to their tasks files: no
 *                                  RCU grace period), open the cgroup.procs files left (and the
 *                                  cgroup2 dir), oom_score_adj
 *                                setns(user first, then the others)
 *                                clone3(ns flags | CLONE_PARENT      (blocks reading the release pipe)
 *                                  [| CLONE_INTO_CGROUP]) ───────────►
 *        ◄──────── SYNC_PID(pid) ─┤
 *                                write uid_map/gid_map
 *                                release #1 ────────────────────────► setresuid(0) in a new user ns, setsid
 *                                write the child's pid to any           mounts (rootfs, spec mounts, /dev)
 *                                cgroup.procs left (one RCU grace      … (a new cgroup ns waits for #2 first)
 *                                period, overlapped)
 *                                release #2, exit(0) ───────────────►
 *        ◄─────────────────────────────────────── SYNC_HOOKS ──────── (only when the plan asks for it)
 *   run prestart/createRuntime hooks
 *        ─────────────────────────────────────── SYNC_CONTINUE ─────► pivot_root, masked/ro paths, sysctls
 *        ◄──────────────────────────────────────── SYNC_PTY + fd ──── (terminal: the pty master)
 *                                                                     rlimits, caps, uid/gid, PATH lookup,
 *                                                                     wait for release #2 (in its cgroups)
 *        ◄──────────────────────────────────────── SYNC_READY ─────── create: close sync, block on exec.fifo
 *                                                                     exec mode: no READY; execve closes the
 *                                                                     socket (CLOEXEC), the addon sees EOF
 *   Any stage may instead send SYNC_ERROR {errno, "what was being done"} and exit.
 */
#ifndef BERTH_PROTOCOL_H
#define BERTH_PROTOCOL_H

#include <stdint.h>

#define BERTH_PLAN_FD 4
#define BERTH_SYNC_FD 3

enum plan_tag {
  PLAN_MODE = 1,          /* u32: PLAN_MODE_CREATE | PLAN_MODE_EXEC */
  PLAN_CGROUP_PROCS = 2,  /* string, repeated: cgroup.procs files the helper writes the child's pid to */
  PLAN_NS_JOIN = 3,       /* u32 clone flag + string path, repeated */
  PLAN_CLONE_FLAGS = 4,   /* u32: namespaces to create */
  PLAN_UID_MAP = 5,       /* string: uid_map contents */
  PLAN_GID_MAP = 6,       /* string */
  PLAN_OOM_SCORE_ADJ = 7, /* i32 */
  PLAN_ROOTFS = 8,        /* string: absolute host path */
  PLAN_ROOTFS_PROPAGATION = 9, /* u32 mount flags for "/" (default MS_SLAVE|MS_REC) */
  PLAN_READONLY_ROOTFS = 10,   /* u32 bool */
  PLAN_NO_PIVOT = 11,     /* u32 bool */
  PLAN_MOUNT = 12,        /* nested MOUNT_* */
  PLAN_DEVICE = 13,       /* nested DEVICE_* */
  PLAN_MASKED = 15,       /* string, repeated */
  PLAN_READONLY_PATH = 16,/* string, repeated */
  PLAN_HOSTNAME = 17,     /* string */
  PLAN_DOMAINNAME = 18,   /* string */
  PLAN_SYSCTL = 19,       /* string key, string value */
  PLAN_RLIMIT = 20,       /* u32 resource, u64 soft, u64 hard */
  PLAN_UID = 21,          /* u32 */
  PLAN_GID = 22,          /* u32 */
  PLAN_ADDITIONAL_GID = 23, /* u32, repeated */
  PLAN_UMASK = 24,        /* u32 */
  PLAN_CAPS = 25,         /* 5 x u64: bounding, effective, inheritable, permitted, ambient */
  PLAN_NO_NEW_PRIVS = 26, /* u32 bool */
  PLAN_SECCOMP_BPF = 27,  /* struct sock_filter[] */
  PLAN_SECCOMP_FLAGS = 28,/* u32 SECCOMP_FILTER_FLAG_* */
  PLAN_ARG = 29,          /* string, repeated */
  PLAN_ENV = 30,          /* string, repeated */
  PLAN_CWD = 31,          /* string */
  PLAN_TERMINAL = 32,     /* u32 bool */
  PLAN_CONSOLE_SIZE = 33, /* u16 rows, u16 cols */
  PLAN_FIFO = 34,         /* string: exec.fifo path (create mode) */
  PLAN_HOOKS_SYNC = 35,   /* u32 bool: stop for prestart/createRuntime hooks */
  PLAN_MKDIR_CWD = 36,    /* u32 bool: create cwd inside the rootfs if missing */
  PLAN_SETGROUPS = 37,    /* u32 bool: call setgroups() (false in a user ns with setgroups denied) */
  PLAN_CGROUP_DIR = 38,   /* string: a cgroup2 directory to clone straight into (CLONE_INTO_CGROUP) */
  PLAN_CGROUP_TASKS = 39, /* string, repeated: v1 tasks files the helper writes "0" to (moving itself) before cloning */
};

enum plan_mode { PLAN_MODE_CREATE = 1, PLAN_MODE_EXEC = 2 };

enum mount_tag {
  MOUNT_KIND = 1,     /* u32 enum mount_kind */
  MOUNT_SOURCE = 2,   /* string */
  MOUNT_DEST = 3,     /* string: absolute path inside the container */
  MOUNT_FSTYPE = 4,   /* string */
  MOUNT_FLAGS = 5,    /* u32 MS_* */
  MOUNT_PROPAGATION = 6, /* u32 MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC), applied after */
  MOUNT_DATA = 7,     /* string */
  MOUNT_TARGET_FILE = 8, /* u32 bool: create the target as a file (bind of a file) */
};

enum mount_kind {
  MOUNT_KIND_FS = 1,      /* mount(source, dest, fstype, flags, data) */
  MOUNT_KIND_BIND = 2,    /* bind (MS_REC if flags say so), then remount with flags */
  MOUNT_KIND_SYMLINK = 3, /* symlink(source, dest) */
  MOUNT_KIND_REMOUNT = 4, /* remount dest with flags (e.g. the v1 cgroup tmpfs read-only after its binds) */
};

enum device_tag {
  DEVICE_PATH = 1,  /* string */
  DEVICE_TYPE = 2,  /* u32: 'c', 'b', 'p' */
  DEVICE_MAJOR = 3, /* u32 */
  DEVICE_MINOR = 4, /* u32 */
  DEVICE_MODE = 5,  /* u32 permission bits */
  DEVICE_UID = 6,   /* u32 */
  DEVICE_GID = 7,   /* u32 */
  DEVICE_BIND = 8,  /* u32 bool: bind-mount the host's node instead of mknod (user namespaces) */
};

enum sync_type {
  SYNC_PID = 1,      /* value: the init's (or exec child's) pid in the caller's pid namespace */
  SYNC_HOOKS = 2,    /* init → Node: run prestart/createRuntime hooks now */
  SYNC_CONTINUE = 3, /* Node → init: hooks done */
  SYNC_PTY = 4,      /* init → Node: pty master attached with SCM_RIGHTS */
  SYNC_READY = 5,    /* init → Node: set up, now blocking on the exec fifo */
  SYNC_ERROR = 6,    /* value: errno; text: what was being done (the receiver appends the errno) */
  SYNC_ERROR_PLAIN = 7, /* value: errno; text: the complete message (runc's wording, e.g. exec lookups) */
  SYNC_GO = 8,       /* Node → a parked helper: its stdin, stdout, stderr and plan, as SCM_RIGHTS in that order */
};

#define SYNC_TEXT_MAX 1024

struct sync_msg {
  uint32_t type;
  int32_t value;
  char text[SYNC_TEXT_MAX];
};

#endif
