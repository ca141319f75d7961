#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "nsexec.h"
#include "../common/passed-fds.h"

int sync_fd = BERTH_SYNC_FD;

const char *errno_name(int errnum) {
  const char *name = strerrorname_np(errnum);
  return name ? name : "EUNKNOWN";
}

__attribute__((noreturn)) static void vfail(uint32_t type, int errnum, const char *fmt, va_list ap) {
  struct sync_msg m = { .type = type, .value = errnum };
  vsnprintf(m.text, sizeof m.text, fmt, ap);
  size_t len = offsetof(struct sync_msg, text) + strlen(m.text) + 1;
  if (sync_fd < 0 || send(sync_fd, &m, len, MSG_NOSIGNAL) < 0) {
    /* No one to tell (after start): the container's stderr is the last resort. */
    dprintf(STDERR_FILENO, "berth-nsexec: %s: %s\n", m.text, strerror(errnum));
  }
  _exit(errnum == ENOENT ? 127 : errnum == EACCES ? 126 : 1);
}

/* Reports {errno, what} to Node and exits: the only way errors leave the helper and the init. */
void fail(int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(SYNC_ERROR, errnum, fmt, ap);
}

void fail_plain(int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(SYNC_ERROR_PLAIN, errnum, fmt, ap);
}

int sync_send(uint32_t type, int32_t value, int fd) {
  struct sync_msg m = { .type = type, .value = value };
  struct iovec iov = { .iov_base = &m, .iov_len = offsetof(struct sync_msg, text) + 1 };
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (fd >= 0) {
    memset(cbuf, 0, sizeof cbuf);
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  if (sendmsg(sync_fd, &msg, MSG_NOSIGNAL) < 0) return -1;
  return 0;
}

/* Blocks until Node sends `type` (SYNC_CONTINUE); any other message or EOF means Node gave up. */
int sync_wait(uint32_t type) {
  struct sync_msg m;
  ssize_t n;
  do n = recv(sync_fd, &m, sizeof m, 0); while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  if (n < (ssize_t)offsetof(struct sync_msg, text) || m.type != type) {
    errno = EPIPE;
    return -1;
  }
  return 0;
}

int write_file(const char *path, const char *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, data, len);
  int saved = errno;
  close(fd);
  if (n < 0) {
    errno = saved;
    return -1;
  }
  if ((size_t)n != len) {
    errno = EIO;
    return -1;
  }
  return 0;
}

int sync_recv_fds(uint32_t type, int *fds, int n) {
  struct sync_msg m;
  char cbuf[CMSG_SPACE(sizeof(int) * 8)];
  struct iovec iov = { .iov_base = &m, .iov_len = sizeof m };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  ssize_t got;
  do got = recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC); while (got < 0 && errno == EINTR);
  if (got <= 0) return (int)got;
  int count = take_passed_fds(&msg, fds, n);
  if (got < (ssize_t)offsetof(struct sync_msg, text) || m.type != type || count != n) {
    for (int i = 0; i < count; i++) close(fds[i]);
    errno = EPROTO;
    return -1;
  }
  return count;
}
