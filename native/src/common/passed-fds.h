/* The fds a message on the sync socket carries (SCM_RIGHTS): the first `max` are kept in `out`, any others are
 * closed. Shared by the addon and berth-nsexec, which both receive fds on that socket. */
#ifndef BERTH_PASSED_FDS_H
#define BERTH_PASSED_FDS_H

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Returns how many fds went to `out`. */
static inline int take_passed_fds(struct msghdr *msg, int *out, int max) {
  int count = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int f;
      memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
      if (count < max) out[count++] = f;
      else close(f);
    }
  }
  return count;
}

#endif
