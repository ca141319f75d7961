/* Resolving container paths inside the rootfs before pivot_root, without ever leaving it.
 *
 * The walk is done one component at a time with O_PATH|O_NOFOLLOW and a stack of directory fds, so no
 * path is resolved by the kernel across a symlink we have not inspected. Symlinks are followed the way the
 * container will see them: an absolute target restarts at the rootfs (e.g. Debian's /var/run -> /run), and
 * a target that climbs above the rootfs with ".." is refused (EXDEV): no image needs one, attackers do.
 * Missing directories are created (0755, root); the last component as the caller asks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "nsexec.h"

#define MAX_DEPTH 256
#define MAX_LINKS 40

int resolve_in_rootfs(int rootfd, const char *path, int create, const char *what) {
  static char remaining[PATH_MAX * 2], scratch[PATH_MAX * 2];
  int stack[MAX_DEPTH];
  int depth = 0, links = 0;
  if (strlen(path) >= PATH_MAX) fail(ENAMETOOLONG, "%s %s", what, path);
  strcpy(remaining, path);
  stack[0] = rootfd;
  char *cur = remaining;

  for (;;) {
    while (*cur == '/') cur++;
    if (*cur == '\0') break;
    char *slash = strchr(cur, '/');
    size_t clen = slash ? (size_t)(slash - cur) : strlen(cur);
    char comp[NAME_MAX + 1];
    if (clen > NAME_MAX) fail(ENAMETOOLONG, "%s %s", what, path);
    memcpy(comp, cur, clen);
    comp[clen] = '\0';
    cur += clen;
    bool last = true;
    for (const char *q = cur; *q; q++) if (*q != '/') { last = false; break; }

    if (strcmp(comp, ".") == 0) continue;
    if (strcmp(comp, "..") == 0) {
      if (depth == 0) fail(EXDEV, "%s %s: the path escapes the rootfs through a symlink", what, path);
      close(stack[depth--]);
      continue;
    }

    int fd = openat(stack[depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create != RESOLVE_CREATE_NONE) {
      if (!last || create == RESOLVE_CREATE_DIR) {
        if (mkdirat(stack[depth], comp, 0755) < 0 && errno != EEXIST) fail(errno, "%s %s: mkdir %s", what, path, comp);
      } else {
        int f = openat(stack[depth], comp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f < 0 && errno != EEXIST) fail(errno, "%s %s: create %s", what, path, comp);
        if (f >= 0) close(f);
      }
      fd = openat(stack[depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) fail(errno, "%s %s: open %s", what, path, comp);

    struct stat st;
    if (fstat(fd, &st) < 0) fail(errno, "%s %s: stat %s", what, path, comp);
    if (S_ISLNK(st.st_mode)) {
      if (++links > MAX_LINKS) fail(ELOOP, "%s %s", what, path);
      char target[PATH_MAX];
      ssize_t n = readlinkat(fd, "", target, sizeof target - 1);
      if (n < 0) fail(errno, "%s %s: readlink %s", what, path, comp);
      target[n] = '\0';
      close(fd);
      if (strlen(cur) + (size_t)n + 2 >= sizeof scratch) fail(ENAMETOOLONG, "%s %s", what, path);
      snprintf(scratch, sizeof scratch, "%s/%s", target, cur);
      strcpy(remaining, scratch);
      cur = remaining;
      if (target[0] == '/') while (depth > 0) close(stack[depth--]);
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode)) fail(ENOTDIR, "%s %s: %s is not a directory", what, path, comp);
    if (depth + 1 >= MAX_DEPTH) fail(ENAMETOOLONG, "%s %s", what, path);
    stack[++depth] = fd;
  }

  int result;
  if (depth == 0) {
    result = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    if (result < 0) fail(errno, "%s %s: dup", what, path);
  } else {
    result = stack[depth];
    while (depth > 1) close(stack[--depth]);
  }
  return result;
}

int resolve_parent_in_rootfs(int rootfd, const char *path, const char **base, const char *what) {
  static char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (!slash || slash[1] == '\0' || strcmp(slash + 1, ".") == 0 || strcmp(slash + 1, "..") == 0) {
    fail(EINVAL, "%s %s: not a file path", what, path);
  }
  size_t n = (size_t)(slash - path);
  if (n >= sizeof dir) fail(ENAMETOOLONG, "%s %s", what, path);
  memcpy(dir, path, n);
  dir[n] = '\0';
  *base = slash + 1;
  return resolve_in_rootfs(rootfd, n ? dir : "/", RESOLVE_CREATE_DIR, what);
}
