/* Spawning with posix_spawn (CLONE_VFORK under glibc: cheap, no copy of Node's page tables, and no code of ours
 * runs in a forked copy of Node), with default signal dispositions (Node ignores SIGPIPE; ignored dispositions
 * would survive exec). berth-nsexec gets stdio on 0-2, the sync socket on 3, the plan (a sealed memfd) on 4 and
 * no env; other programs (berth_spawn_process) the fds and env their caller gives. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "berth.h"

int berth_fail(struct berth_err *e, int code, const char *fmt, ...) {
  va_list ap;
  e->code = code;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return -1;
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int berth_spawn_helper(const char *helper, const void *plan, size_t plan_len, const int stdio[3], pid_t *pid,
                       int *sync_fd, struct berth_err *e) {
  int sp[2] = { -1, -1 }, planfd = -1, rc = -1;

  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
    berth_fail(e, errno, "create sync socketpair");
    goto out;
  }
  planfd = memfd_create("berth-plan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (planfd < 0 || write_all(planfd, plan, plan_len) < 0) {
    berth_fail(e, errno, "write plan");
    goto out;
  }
  fcntl(planfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  int fds[5] = { stdio[0], stdio[1], stdio[2], -1, -1 };
  fds[BERTH_SYNC_FD] = sp[1];
  fds[BERTH_PLAN_FD] = planfd;
  char *const argv[] = { (char *)"berth-nsexec", NULL };
  char *const envp[] = { NULL };
  if (berth_spawn_process(helper, argv, envp, fds, 5, pid, e) < 0) goto out;
  *sync_fd = sp[0];
  sp[0] = -1;
  rc = 0;
out:
  if (planfd >= 0) close(planfd);
  if (sp[0] >= 0) close(sp[0]);
  if (sp[1] >= 0) close(sp[1]);
  return rc;
}

int berth_park_helper(const char *helper, pid_t *pid, int *sync_fd, struct berth_err *e) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return berth_fail(e, errno, "create sync socketpair");
  int fds[4] = { -1, -1, -1, sp[1] }; /* no plan at fd 4: the helper waits for SYNC_GO */
  char *const argv[] = { (char *)"berth-nsexec", NULL };
  char *const envp[] = { NULL };
  int rc = berth_spawn_process(helper, argv, envp, fds, 4, pid, e);
  close(sp[1]);
  if (rc < 0) {
    close(sp[0]);
    return -1;
  }
  *sync_fd = sp[0];
  return 0;
}

int berth_release_helper(int sync_fd, const void *plan, size_t plan_len, const int stdio[3], struct berth_err *e) {
  int planfd = -1, devnull = -1, rc = -1;
  planfd = memfd_create("berth-plan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (planfd < 0 || write_all(planfd, plan, plan_len) < 0) {
    berth_fail(e, errno, "write plan");
    goto out;
  }
  fcntl(planfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  int fds[4] = { stdio[0], stdio[1], stdio[2], planfd };
  for (int i = 0; i < 3; i++) {
    if (fds[i] >= 0) continue;
    if (devnull < 0 && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
      berth_fail(e, errno, "open /dev/null");
      goto out;
    }
    fds[i] = devnull;
  }
  struct sync_msg m = { .type = SYNC_GO };
  struct iovec iov = { .iov_base = &m, .iov_len = offsetof(struct sync_msg, text) + 1 };
  char cbuf[CMSG_SPACE(sizeof fds)];
  memset(cbuf, 0, sizeof cbuf);
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  if (sendmsg(sync_fd, &msg, MSG_NOSIGNAL) < 0) {
    berth_fail(e, errno, "hand the plan to the parked helper");
    goto out;
  }
  rc = 0;
out:
  if (planfd >= 0) close(planfd);
  if (devnull >= 0) close(devnull);
  return rc;
}

int berth_spawn_process(const char *file, char *const argv[], char *const envp[], const int *fds, int nfds, pid_t *pid,
                        struct berth_err *e) {
  int src[16], devnull = -1, rc = -1;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  bool fa_init = false, attr_init = false;

  if (nfds < 0 || nfds > 16) return berth_fail(e, EINVAL, "spawn %s: %d fds (at most 16)", file, nfds);
  for (int i = 0; i < nfds; i++) src[i] = -1;
  /* dup2 sources above the target range first, so that no target clobbers a later source. */
  for (int i = 0; i < nfds; i++) {
    int fd = fds[i];
    if (fd < 0) {
      if (devnull < 0 && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
        berth_fail(e, errno, "open /dev/null");
        goto out;
      }
      fd = devnull;
    }
    src[i] = fcntl(fd, F_DUPFD_CLOEXEC, 16);
    if (src[i] < 0) {
      berth_fail(e, errno, "spawn %s: duplicate fd %d", file, fd);
      goto out;
    }
  }
  posix_spawn_file_actions_init(&fa);
  fa_init = true;
  for (int i = 0; i < nfds; i++) posix_spawn_file_actions_adddup2(&fa, src[i], i);

  posix_spawnattr_init(&attr);
  attr_init = true;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  /* posix_spawnp: a file with a slash (the helper's absolute path) is not searched in PATH. */
  int err = posix_spawnp(pid, file, &fa, &attr, argv, envp);
  if (err != 0) {
    berth_fail(e, err, "spawn %s", file);
    goto out;
  }
  rc = 0;
out:
  if (fa_init) posix_spawn_file_actions_destroy(&fa);
  if (attr_init) posix_spawnattr_destroy(&attr);
  for (int i = 0; i < nfds; i++) if (src[i] >= 0) close(src[i]);
  if (devnull >= 0) close(devnull);
  return rc;
}

int berth_memfd(const char *name, const void *data, size_t len, struct berth_err *e) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return berth_fail(e, errno, "memfd_create %s", name);
  if (len > 0 && (write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0)) {
    berth_fail(e, errno, "write memfd %s", name);
    close(fd);
    return -1;
  }
  return fd;
}
