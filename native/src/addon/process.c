/* Children: pidfds, reaping, the subreaper flag, eventfds (v1 OOM notifications), pty size, mounts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "berth.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int berth_pidfd_open(pid_t pid, struct berth_err *e) {
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return berth_fail(e, errno, "pidfd_open %d", pid);
  return fd;
}

static void decode(const siginfo_t *si, int *exit_code, int *signal) {
  *exit_code = -1;
  *signal = 0;
  if (si->si_code == CLD_EXITED) *exit_code = si->si_status;
  else *signal = si->si_status;
}

int berth_pidfd_wait(int pidfd, int *exit_code, int *signal, struct berth_err *e) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc;
  do rc = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG); while (rc < 0 && errno == EINTR);
  if (rc < 0) return berth_fail(e, errno, "wait for the process");
  if (si.si_pid == 0) return 0;
  decode(&si, exit_code, signal);
  return 1;
}

int berth_wait_pid(pid_t pid, int nohang, int *exit_code, int *signal, struct berth_err *e) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc;
  do rc = waitid(P_PID, (id_t)pid, &si, WEXITED | (nohang ? WNOHANG : 0)); while (rc < 0 && errno == EINTR);
  if (rc < 0) return berth_fail(e, errno, "wait for process %d", pid);
  if (si.si_pid == 0) return 0;
  decode(&si, exit_code, signal);
  return 1;
}

int berth_peek_exited(pid_t *pid, struct berth_err *e) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc;
  do rc = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT); while (rc < 0 && errno == EINTR);
  if (rc < 0) return berth_fail(e, errno, "look for exited children");
  *pid = si.si_pid;
  return 0;
}

int berth_set_subreaper(struct berth_err *e) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return berth_fail(e, errno, "become a child subreaper");
  return 0;
}

int berth_eventfd(struct berth_err *e) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return berth_fail(e, errno, "create eventfd");
  return fd;
}

int berth_read_eventfd(int fd, uint64_t *value, struct berth_err *e) {
  ssize_t n = read(fd, value, sizeof *value);
  if (n < 0) {
    if (errno == EAGAIN) {
      *value = 0;
      return 0;
    }
    return berth_fail(e, errno, "read eventfd");
  }
  return 0;
}

int berth_resize_pty(int fd, unsigned rows, unsigned cols, struct berth_err *e) {
  struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return berth_fail(e, errno, "resize pty to %ux%u", cols, rows);
  return 0;
}

int berth_mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data,
                struct berth_err *e) {
  if (mount(source, target, fstype, flags, data) < 0) {
    return berth_fail(e, errno, "mount %s on %s", fstype && *fstype ? fstype : source ? source : "", target);
  }
  return 0;
}

int berth_unmount(const char *target, int flags, struct berth_err *e) {
  if (umount2(target, flags) < 0) return berth_fail(e, errno, "unmount %s", target);
  return 0;
}

int berth_pipe(int fds[2], struct berth_err *e) {
  if (pipe2(fds, O_CLOEXEC) < 0) return berth_fail(e, errno, "pipe");
  return 0;
}

int berth_mkfifo(const char *path, unsigned mode, struct berth_err *e) {
  if (mkfifo(path, (mode_t)mode) < 0) return berth_fail(e, errno, "mkfifo %s", path);
  return 0;
}
