/* The Node end of the sync socket (protocol in ../common/protocol.h), and passing a pty master on to a
 * --console-socket (runc's protocol: one message whose payload names the file, the fd as SCM_RIGHTS). */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "berth.h"
#include "../common/passed-fds.h"

int berth_sync_recv(int fd, struct sync_msg *m, int *passed_fd, struct berth_err *e) {
  char cbuf[CMSG_SPACE(sizeof(int) * 4)];
  struct iovec iov = { .iov_base = m, .iov_len = sizeof *m };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  *passed_fd = -1;
  memset(m, 0, sizeof *m);
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return -2;
    return berth_fail(e, errno, "read from the container's sync socket");
  }
  take_passed_fds(&msg, passed_fd, 1);
  if (n == 0) return 0;
  if (n < (ssize_t)offsetof(struct sync_msg, text)) {
    if (*passed_fd >= 0) close(*passed_fd);
    return berth_fail(e, EPROTO, "short message on the container's sync socket");
  }
  m->text[sizeof m->text - 1] = '\0';
  return 1;
}

int berth_sync_send(int fd, uint32_t type, struct berth_err *e) {
  struct sync_msg m = { .type = type };
  if (send(fd, &m, offsetof(struct sync_msg, text) + 1, MSG_NOSIGNAL) < 0) {
    return berth_fail(e, errno, "write to the container's sync socket");
  }
  return 0;
}

int berth_send_fd(const char *socket_path, int fd, const char *name, struct berth_err *e) {
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(socket_path) >= sizeof addr.sun_path) return berth_fail(e, ENAMETOOLONG, "console socket %s", socket_path);
  strcpy(addr.sun_path, socket_path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return berth_fail(e, errno, "create socket for console socket %s", socket_path);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int err = errno;
    close(s);
    return berth_fail(e, err, "connect to console socket %s", socket_path);
  }
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(s, &msg, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  int err = errno;
  close(s);
  if (n < 0) return berth_fail(e, err, "send the pty master to console socket %s", socket_path);
  return 0;
}
