/* The addon's C core (crun style): every function that can fail fills `struct berth_err` with the errno and
 * what it was doing, and returns -1. addon.cc turns that into one kind of JS error. */
#ifndef BERTH_ADDON_H
#define BERTH_ADDON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "../common/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

struct berth_err {
  int code;
  char msg[1100];
};

int berth_fail(struct berth_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* spawn.c */
int berth_spawn_helper(const char *helper, const void *plan, size_t plan_len, const int stdio[3], pid_t *pid,
                       int *sync_fd, struct berth_err *e);
/* A helper spawned ahead of its plan ("parked"): it waits on its sync socket for berth_release_helper. */
int berth_park_helper(const char *helper, pid_t *pid, int *sync_fd, struct berth_err *e);
/* Hands a parked helper its stdio (-1: /dev/null) and its plan (SYNC_GO); it then runs as if spawned with them. */
int berth_release_helper(int sync_fd, const void *plan, size_t plan_len, const int stdio[3], struct berth_err *e);

/* Spawns `file` (searched in PATH) with posix_spawn: fds[i] becomes the child's fd i (-1: /dev/null), every
 * other fd of ours stays behind (they are all close-on-exec), signal dispositions and mask are reset. */
int berth_spawn_process(const char *file, char *const argv[], char *const envp[], const int *fds, int nfds, pid_t *pid,
                        struct berth_err *e);
int berth_memfd(const char *name, const void *data, size_t len, struct berth_err *e);

/* sync.c: one non-blocking receive; returns 1 with a message, 0 on EOF, -2 when nothing is waiting. */
int berth_sync_recv(int fd, struct sync_msg *m, int *passed_fd, struct berth_err *e);
int berth_sync_send(int fd, uint32_t type, struct berth_err *e);
int berth_send_fd(const char *socket_path, int fd, const char *name, struct berth_err *e);

/* process.c */
int berth_pidfd_open(pid_t pid, struct berth_err *e);
/* Reaps the child behind a pidfd. 1: reaped (status filled); 0: not exited yet; -1: error (ECHILD: not ours). */
int berth_pidfd_wait(int pidfd, int *exit_code, int *signal, struct berth_err *e);
int berth_wait_pid(pid_t pid, int nohang, int *exit_code, int *signal, struct berth_err *e);
/* Peeks at the next exited child without reaping it: its pid, 0 if none, -1 on error (ECHILD: no children). */
int berth_peek_exited(pid_t *pid, struct berth_err *e);
int berth_set_subreaper(struct berth_err *e);
int berth_eventfd(struct berth_err *e);
int berth_read_eventfd(int fd, uint64_t *value, struct berth_err *e);
int berth_resize_pty(int fd, unsigned rows, unsigned cols, struct berth_err *e);
int berth_mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data,
                struct berth_err *e);
int berth_unmount(const char *target, int flags, struct berth_err *e);
int berth_mkfifo(const char *path, unsigned mode, struct berth_err *e);
/* pipe2(O_CLOEXEC): fds[0] the read end, fds[1] the write end (two open file descriptions). */
int berth_pipe(int fds[2], struct berth_err *e);

/* devices.c: v1-style device rules as a cgroup v2 BPF program. type 'a', 'b' or 'c'; access bits
 * 1 = mknod, 2 = read, 4 = write; major/minor -1 = any. */
struct berth_device_rule { int type; int major, minor; unsigned access; int allow; };
struct bpf_insn;
int berth_device_filter(const struct berth_device_rule *rules, size_t n, struct bpf_insn **out, size_t *len);
int berth_attach_device_filter(const char *cgroup_dir, const struct berth_device_rule *rules, size_t n, struct berth_err *e);

/* seccomp.c: a profile in a flat form the addon parses from JS, compiled to classic BPF by libseccomp. */
struct berth_seccomp_arg { uint32_t index; uint64_t value, value_two; uint32_t op; };
struct berth_seccomp_rule {
  const char *name;
  uint32_t action;
  struct berth_seccomp_arg *args;
  size_t n_args;
};
struct berth_seccomp_profile {
  uint32_t default_action;
  const char **arches;
  size_t n_arches;
  struct berth_seccomp_rule *rules;
  size_t n_rules;
};
int berth_seccomp_compile(const struct berth_seccomp_profile *p, void **bpf, size_t *len, struct berth_err *e);

#ifdef __cplusplus
}
#endif

#endif
