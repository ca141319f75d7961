/* The process itself: console, rlimits, user and groups, capabilities, no_new_privs, seccomp, PATH lookup,
 * execve. Order follows runc: bounding set, (seccomp when it needs CAP_SYS_ADMIN), keep-caps, groups,
 * gid, uid, capset, ambient, no_new_privs; seccomp last when no_new_privs lets an unprivileged load work. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include "nsexec.h"

void setup_console(struct plan *p) {
  if (!p->terminal) return;
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(errno, "open /dev/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) fail(errno, "unlock pty");
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) fail(errno, "open pty slave");
  if (p->rows && p->cols) {
    struct winsize ws = { .ws_row = p->rows, .ws_col = p->cols };
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0) fail(errno, "set pty size");
  }
  if (fchown(slave, p->uid, (gid_t)-1) < 0 && errno != EINVAL) fail(errno, "chown pty slave");
  if (sync_send(SYNC_PTY, 0, master) < 0) fail(errno, "send pty master");
  close(master);
  for (int i = 0; i < 3; i++) if (dup2(slave, i) < 0) fail(errno, "dup pty slave to fd %d", i);
  if (ioctl(0, TIOCSCTTY, 0) < 0) fail(errno, "make the pty the controlling terminal");
  close(slave);
}

void apply_rlimits(struct plan *p) {
  for (size_t i = 0; i < p->n_rlimits; i++) {
    struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
    if (setrlimit((int)p->rlimits[i].resource, &rl) < 0) fail(errno, "setrlimit %u", p->rlimits[i].resource);
  }
}

void load_seccomp(struct plan *p) {
  if (!p->seccomp || p->seccomp_len == 0) return;
  struct sock_fprog prog = {
    .len = (unsigned short)(p->seccomp_len / sizeof(struct sock_filter)),
    .filter = (struct sock_filter *)p->seccomp,
  };
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog) < 0) fail(errno, "load seccomp filter");
  p->seccomp = NULL;
}

static int last_cap(void) {
  char buf[16] = {0};
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) return atoi(buf);
  }
  return CAP_LAST_CAP;
}

void finalize_process(struct plan *p) {
  if (p->has_caps) {
    int last = last_cap();
    for (int c = 0; c <= last; c++) {
      if (!(p->cap_bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
        fail(errno, "drop capability %d from the bounding set", c);
      }
    }
  }
  if (!p->no_new_privs) load_seccomp(p);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail(errno, "set keep-caps");
  if (p->setgroups && setgroups(p->n_gids, (gid_t *)p->gids) < 0) fail(errno, "setgroups");
  if (setresgid(p->gid, p->gid, p->gid) < 0) fail(errno, "setgid %u", p->gid);
  if (setresuid(p->uid, p->uid, p->uid) < 0) fail(errno, "setuid %u", p->uid);
  if (p->has_caps) {
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2] = {
      { (uint32_t)p->cap_effective, (uint32_t)p->cap_permitted, (uint32_t)p->cap_inheritable },
      { (uint32_t)(p->cap_effective >> 32), (uint32_t)(p->cap_permitted >> 32), (uint32_t)(p->cap_inheritable >> 32) },
    };
    if (syscall(SYS_capset, &hdr, data) < 0) fail(errno, "set capabilities");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) fail(errno, "clear ambient capabilities");
    /* A cap missing from the permitted or inheritable set cannot be ambient: runc only warns, so do we (silently). */
    for (int c = 0; c < 64; c++) {
      if ((p->cap_ambient & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM) {
        fail(errno, "raise ambient capability %d", c);
      }
    }
  }
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) fail(errno, "clear keep-caps");
  umask(p->has_umask ? p->umask : 022);
  if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(errno, "set no_new_privs");
  if (p->cwd && chdir(p->cwd) < 0) fail(errno, "chdir to cwd %s", p->cwd);
}

static const char *env_lookup(struct plan *p, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < p->n_env; i++) {
    if (strncmp(p->env[i], name, n) == 0 && p->env[i][n] == '=') return p->env[i] + n + 1;
  }
  return NULL;
}

static bool is_executable(const char *path, int *err) {
  struct stat st;
  if (stat(path, &st) < 0) {
    *err = errno;
    return false;
  }
  if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
    *err = EACCES;
    return false;
  }
  return true;
}

/* runc sets HOME from the container's /etc/passwd when the spec does not (Docker relies on it). */
static void ensure_home(struct plan *p) {
  if (env_lookup(p, "HOME")) return;
  static char entry[PATH_MAX + 8];
  const char *home = "/";
  FILE *f = fopen("/etc/passwd", "re");
  static char line[4096];
  while (f && fgets(line, sizeof line, f)) {
    char *fields[7] = {0};
    int n = 0;
    for (char *s = line, *tok; n < 7 && (tok = strsep(&s, ":\n")) != NULL; ) fields[n++] = tok;
    if (n >= 6 && fields[2] && (uint32_t)strtoul(fields[2], NULL, 10) == p->uid && fields[5] && fields[5][0]) {
      home = fields[5];
      break;
    }
  }
  snprintf(entry, sizeof entry, "HOME=%s", home);
  if (f) fclose(f);
  const char **env = realloc(p->env, sizeof(*env) * (p->n_env + 2));
  if (!env) fail(ENOMEM, "set HOME");
  env[p->n_env++] = entry;
  env[p->n_env] = NULL;
  p->env = env;
}

/* Go's exec.LookPath, as runc does it: the messages are the ones the Docker engine maps to 126/127. */
const char *lookup_executable(struct plan *p) {
  ensure_home(p);
  const char *name = p->args[0];
  int err = 0;
  if (strchr(name, '/')) {
    if (!is_executable(name, &err)) {
      fail_plain(err, "exec: \"%s\": stat %s: %s", name, name, err == EACCES ? "permission denied" : err == ENOENT ? "no such file or directory" : strerror(err));
    }
    return name;
  }
  const char *path = env_lookup(p, "PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  static char candidate[PATH_MAX];
  const char *dir = path;
  for (;;) {
    const char *end = strchrnul(dir, ':');
    size_t dlen = (size_t)(end - dir);
    if (dlen == 0) snprintf(candidate, sizeof candidate, "./%s", name);
    else snprintf(candidate, sizeof candidate, "%.*s/%s", (int)dlen, dir, name);
    if (is_executable(candidate, &err)) return candidate;
    if (*end == '\0') break;
    dir = end + 1;
  }
  fail_plain(ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

void exec_process(struct plan *p, const char *path) {
  execve(path, (char *const *)p->args, (char *const *)p->env);
  fail(errno, "exec %s", path);
}
