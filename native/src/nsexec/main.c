/* berth-nsexec: spawned by the addon with fd 3 = sync socket, fd 4 = plan (see ../common/protocol.h).
 *
 * Stage 1 (this process): join the cgroups, set oom_score_adj, join existing namespaces, then clone the
 * container process with the new namespaces and CLONE_PARENT, so it is a child of the Node process that
 * spawned us (the shim, or berth-runc); write its uid/gid maps, report its pid, exit.
 * Stage 2 (the clone): create mode sets up the container and waits on the exec fifo for `start`; exec mode
 * applies the process settings and execs at once. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include "nsexec.h"

static struct plan plan;

static void load_plan(void) {
  struct stat st;
  if (fstat(BERTH_PLAN_FD, &st) < 0) fail(errno, "stat plan");
  void *buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, BERTH_PLAN_FD, 0);
  if (buf == MAP_FAILED) fail(errno, "map plan");
  close(BERTH_PLAN_FD);
  if (plan_decode(buf, (size_t)st.st_size, &plan) < 0) fail(errno ? errno : EINVAL, "decode plan");
}

static void join_cgroups(void) {
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%d", getpid());
  for (size_t i = 0; i < plan.n_cgroup_procs; i++) {
    if (write_file(plan.cgroup_procs[i], pid, (size_t)n) < 0) fail(errno, "join cgroup %s", plan.cgroup_procs[i]);
  }
}

static void join_namespaces(void) {
  int fds[16];
  size_t n = plan.n_joins < 16 ? plan.n_joins : 16;
  /* Open every path first: after joining the mount namespace they may no longer resolve. */
  for (size_t i = 0; i < n; i++) {
    fds[i] = open(plan.joins[i].path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) fail(errno, "open namespace %s", plan.joins[i].path);
  }
  /* The user namespace first: it grants the capabilities the other joins need. */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      bool user = plan.joins[i].type == CLONE_NEWUSER;
      if (user != (pass == 0)) continue;
      if (user) {
        struct stat a, b;
        if (fstat(fds[i], &a) == 0 && stat("/proc/self/ns/user", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
          continue; /* already there (setns would fail with EINVAL) */
        }
      }
      if (setns(fds[i], (int)plan.joins[i].type) < 0) fail(errno, "join namespace %s", plan.joins[i].path);
      if (user && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) fail(errno, "become root in user namespace %s", plan.joins[i].path);
    }
  }
  for (size_t i = 0; i < n; i++) close(fds[i]);
}

static pid_t clone_parent(uint32_t flags) {
  /* With CLONE_PARENT the child inherits our exit signal (SIGCHLD); clone3 rejects an explicit one. */
  struct clone_args args = { .flags = (uint64_t)flags | CLONE_PARENT };
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && (errno == ENOSYS || errno == E2BIG)) {
    pid = syscall(SYS_clone, (unsigned long)flags | CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
  }
  return (pid_t)pid;
}

static void write_id_map(pid_t pid, const char *file, const char *map) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
  if (write_file(path, map, strlen(map)) < 0) fail(errno, "write %s of the container", file);
}

static void wait_release(int release) {
  char c;
  ssize_t n;
  do n = read(release, &c, 1); while (n < 0 && errno == EINTR);
  if (n != 1) _exit(1); /* the helper failed and has reported it */
  close(release);
}

__attribute__((noreturn)) static void container_init(void) {
  if (plan.clone_flags & CLONE_NEWUSER) {
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) fail(errno, "become root in the new user namespace");
  }
  /* Mount targets are opened through /proc/self/fd, which a non-dumpable process cannot use in a user ns. */
  if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) fail(errno, "set dumpable");
  if (setsid() < 0) fail(errno, "setsid");
  umask(0);

  int fifo = -1;
  if (plan.rootfs) setup_rootfs(&plan, &fifo);
  if (plan.hostname && sethostname(plan.hostname, strlen(plan.hostname)) < 0) fail(errno, "set hostname %s", plan.hostname);
  if (plan.domainname && setdomainname(plan.domainname, strlen(plan.domainname)) < 0) {
    fail(errno, "set domainname %s", plan.domainname);
  }
  setup_console(&plan);
  if (plan.rootfs) finish_rootfs(&plan);
  apply_rlimits(&plan);
  finalize_process(&plan);
  const char *path = lookup_executable(&plan);

  if (sync_send(SYNC_READY, 0, -1) < 0) fail(errno, "report ready");
  close(sync_fd);
  sync_fd = -1;
  if (fifo >= 0) {
    char c;
    ssize_t n;
    do n = read(fifo, &c, 1); while (n < 0 && errno == EINTR);
    if (n != 1) fail(n < 0 ? errno : EPIPE, "wait for start on the exec fifo");
  }
  load_seccomp(&plan);
  exec_process(&plan, path);
}

__attribute__((noreturn)) static void exec_child(void) {
  if (setsid() < 0) fail(errno, "setsid");
  setup_console(&plan);
  apply_rlimits(&plan);
  finalize_process(&plan);
  const char *path = lookup_executable(&plan);
  load_seccomp(&plan);
  /* On success the sync socket closes with execve (CLOEXEC): the addon reads EOF, which means "running". */
  exec_process(&plan, path);
}

int main(void) {
  /* Nothing of Node's may leak into a container: keep stdio, sync and plan only. */
  syscall(SYS_close_range, BERTH_PLAN_FD + 1, ~0U, 0);
  if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) fail(errno, "set close-on-exec on the sync socket");
  /* Until execve, our /proc/<pid>/exe is this binary: keep it out of reach of processes in the container. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  load_plan();

  join_cgroups();
  if (plan.has_oom_score_adj) {
    char v[16];
    int n = snprintf(v, sizeof v, "%d", plan.oom_score_adj);
    if (write_file("/proc/self/oom_score_adj", v, (size_t)n) < 0) fail(errno, "set oom_score_adj %d", plan.oom_score_adj);
  }
  join_namespaces();

  /* The child waits for release so that SYNC_PID always reaches Node before anything the child says. */
  bool userns = (plan.clone_flags & CLONE_NEWUSER) != 0;
  int release[2];
  if (pipe2(release, O_CLOEXEC) < 0) fail(errno, "create release pipe");

  pid_t pid = clone_parent(plan.clone_flags);
  if (pid < 0) fail(errno, "clone the container process");
  if (pid == 0) {
    close(release[1]);
    wait_release(release[0]);
    if (plan.mode == PLAN_MODE_EXEC) exec_child();
    container_init();
  }

  /* The pid goes first: if anything below fails, Node knows which child of its own to kill and reap. */
  if (sync_send(SYNC_PID, pid, -1) < 0) fail(errno, "report the container pid");
  close(release[0]);
  if (userns) {
    if (plan.uid_map) write_id_map(pid, "uid_map", plan.uid_map);
    if (plan.gid_map) {
      if (!plan.setgroups) write_id_map(pid, "setgroups", "deny");
      write_id_map(pid, "gid_map", plan.gid_map);
    }
  }
  if (write(release[1], "1", 1) != 1) fail(errno, "release the container process");
  return 0;
}
