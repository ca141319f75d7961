/* berth-nsexec: the small static helper that turns a plan into a container process. See ../common/protocol.h
 * for the plan format and the sync protocol. Every function that can fail returns -1 after reporting what it
 * was doing with fail(): the message crosses the sync socket and the process exits. */
#ifndef BERTH_NSEXEC_H
#define BERTH_NSEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "../common/protocol.h"

struct ns_join { uint32_t type; const char *path; };

struct plan_mount {
  uint32_t kind;
  const char *source, *dest, *fstype, *data;
  uint32_t flags, propagation;
  bool target_file;
};

struct plan_device {
  const char *path;
  uint32_t type, major, minor, mode, uid, gid;
  bool bind;
};

struct plan_sysctl { const char *key, *value; };
struct plan_rlimit { uint32_t resource; uint64_t soft, hard; };

struct plan {
  uint32_t mode;
  const char **cgroup_tasks; size_t n_cgroup_tasks;
  const char **cgroup_procs; size_t n_cgroup_procs;
  const char *cgroup_dir;
  struct ns_join *joins; size_t n_joins;
  uint32_t clone_flags;
  const char *uid_map, *gid_map;
  bool has_oom_score_adj; int32_t oom_score_adj;
  const char *rootfs;
  uint32_t rootfs_propagation;
  bool readonly_rootfs, no_pivot;
  struct plan_mount *mounts; size_t n_mounts;
  struct plan_device *devices; size_t n_devices;
  const char **masked; size_t n_masked;
  const char **readonly; size_t n_readonly;
  const char *hostname, *domainname;
  struct plan_sysctl *sysctls; size_t n_sysctls;
  struct plan_rlimit *rlimits; size_t n_rlimits;
  uint32_t uid, gid;
  uint32_t *gids; size_t n_gids;
  bool setgroups;
  bool has_umask; uint32_t umask;
  bool has_caps; uint64_t cap_bounding, cap_effective, cap_inheritable, cap_permitted, cap_ambient;
  bool no_new_privs;
  const void *seccomp; size_t seccomp_len; uint32_t seccomp_flags;
  const char **args; size_t n_args;
  const char **env; size_t n_env;
  const char *cwd;
  bool mkdir_cwd;
  bool terminal; uint16_t rows, cols;
  const char *fifo;
  bool hooks_sync;
};

/* plan.c */
int plan_decode(const void *buf, size_t len, struct plan *p);

/* util.c */
extern int sync_fd;
__attribute__((noreturn, format(printf, 2, 3))) void fail(int errnum, const char *fmt, ...);
__attribute__((noreturn, format(printf, 2, 3))) void fail_plain(int errnum, const char *fmt, ...);
int sync_send(uint32_t type, int32_t value, int fd);
int sync_wait(uint32_t type);
/* Receives one message of `type` carrying exactly `n` fds (CLOEXEC): n, 0 on EOF, -1 on error. */
int sync_recv_fds(uint32_t type, int *fds, int n);
int write_file(const char *path, const char *data, size_t len);
const char *errno_name(int errnum);

/* paths.c: resolving container paths inside the rootfs without leaving it */
enum { RESOLVE_CREATE_NONE = 0, RESOLVE_CREATE_DIR = 1, RESOLVE_CREATE_FILE = 2 };
int resolve_in_rootfs(int rootfd, const char *path, int create, const char *what);
int resolve_parent_in_rootfs(int rootfd, const char *path, const char **base, const char *what);

/* rootfs.c */
void setup_rootfs(struct plan *p, int *fifo_fd);
void finish_rootfs(struct plan *p);

/* security.c */
void apply_rlimits(struct plan *p);
void finalize_process(struct plan *p);
void load_seccomp(struct plan *p);
void setup_console(struct plan *p);
__attribute__((noreturn)) void exec_process(struct plan *p, const char *path);
const char *lookup_executable(struct plan *p);

#endif
