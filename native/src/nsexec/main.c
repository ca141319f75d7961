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
#include <stdlib.h>
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

/* Moves this (single-threaded) helper into the v1 cgroups by writing "0" to their tasks files: a thread moving
 * itself does not take the kernel's threadgroup lock for writing, so no RCU grace period (cgroup.procs would
 * wait for one, 7-12 ms). The child cloned afterwards is born in these cgroups. Done before setns, while the
 * helper is still root of the host's user namespace. */
static void move_self_to_cgroups(void) {
  for (size_t i = 0; i < plan.n_cgroup_tasks; i++) {
    if (write_file(plan.cgroup_tasks[i], "0", 1) < 0) fail(errno, "join cgroup %s", plan.cgroup_tasks[i]);
  }
}

/* Opened before setns: after joining the container's mount namespace the paths would name its files. */
static int *cgroup_fds;
static int cgroup_dir_fd = -1;
static bool cloned_into_cgroup;

static void open_cgroups(void) {
  cgroup_fds = calloc(plan.n_cgroup_procs + 1, sizeof *cgroup_fds);
  if (!cgroup_fds) fail(ENOMEM, "open cgroups");
  if (plan.cgroup_dir) {
    cgroup_dir_fd = open(plan.cgroup_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cgroup_dir_fd < 0) fail(errno, "open cgroup %s", plan.cgroup_dir);
  }
  for (size_t i = 0; i < plan.n_cgroup_procs; i++) {
    cgroup_fds[i] = open(plan.cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (cgroup_fds[i] < 0) fail(errno, "open cgroup %s", plan.cgroup_procs[i]);
  }
}

/* The cgroups the helper could not move itself into (a v1 pids limit would count it). The first migration of
 * a burst waits for an RCU grace period (~10 ms): it runs while the child, already released, sets up its
 * mounts (as runc's parent applies cgroups while runc init works). */
static void join_cgroups(pid_t pid) {
  char text[32];
  int n = snprintf(text, sizeof text, "%d", pid);
  for (size_t i = 0; i < plan.n_cgroup_procs; i++) {
    if (write(cgroup_fds[i], text, (size_t)n) != n) fail(errno, "join cgroup %s", plan.cgroup_procs[i]);
    close(cgroup_fds[i]);
  }
  if (cgroup_dir_fd >= 0 && !cloned_into_cgroup) {
    int fd = openat(cgroup_dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, (size_t)n) != n) fail(errno, "join cgroup %s", plan.cgroup_dir);
    close(fd);
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

/* CLONE_INTO_CGROUP puts the child in the cgroup2 directory at birth: no migration, hence no RCU grace period
 * (on a pure v2 host the create then pays none). Without it (old kernel, or a cgroup that refuses it) the
 * helper writes the pid to cgroup.procs like the v1 ones. */
static pid_t clone_parent(uint32_t flags) {
  /* With CLONE_PARENT the child inherits our exit signal (SIGCHLD); clone3 rejects an explicit one. */
  struct clone_args args = { .flags = (uint64_t)flags | CLONE_PARENT };
  long pid = -1;
  if (cgroup_dir_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_dir_fd;
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0) {
      if (pid > 0) cloned_into_cgroup = true;
      return (pid_t)pid;
    }
    args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
    args.cgroup = 0;
  }
  pid = syscall(SYS_clone3, &args, sizeof args);
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

/* The helper releases the child twice: once the pid is reported and the id maps are written (the child may
 * start its setup), and once it is in its cgroups (the child must be before it reports ready or execs). */
static int release_fd = -1;

static void wait_release(void) {
  char c;
  ssize_t n;
  do n = read(release_fd, &c, 1); while (n < 0 && errno == EINTR);
  if (n != 1) _exit(1); /* the helper failed and has reported it */
}

__attribute__((noreturn)) static void container_init(bool cgroupns) {
  if (plan.clone_flags & CLONE_NEWUSER) {
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) fail(errno, "become root in the new user namespace");
  }
  /* Mount targets are opened through /proc/self/fd, which a non-dumpable process cannot use in a user ns. */
  if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) fail(errno, "set dumpable");
  if (setsid() < 0) fail(errno, "setsid");
  umask(0);
  /* A cgroup namespace is rooted where the process is when it is created: wait for the cgroups first. */
  bool in_cgroups = false;
  if (cgroupns) {
    wait_release();
    in_cgroups = true;
    if (unshare(CLONE_NEWCGROUP) < 0) fail(errno, "create the cgroup namespace");
  }

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
  if (!in_cgroups) wait_release();

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
  wait_release();
  load_seccomp(&plan);
  /* On success the sync socket closes with execve (CLOEXEC): the addon reads EOF, which means "running". */
  exec_process(&plan, path);
}

/* A helper spawned ahead of time (a spare shim parks one) has no plan at fd 4 yet: it waits for SYNC_GO with its
 * stdin, stdout, stderr and plan, and puts them where a helper spawned with them has them. EOF (its parent
 * went away) or anything else ends it quietly. */
static void await_go(void) {
  struct stat st;
  if (fstat(BERTH_PLAN_FD, &st) == 0) return;
  int fds[4];
  if (sync_recv_fds(SYNC_GO, fds, 4) != 4) _exit(0);
  /* Above the targets first (a received fd may be 4 itself), then into place; dup2 leaves them inheritable. */
  for (int i = 0; i < 4; i++) {
    int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 16);
    if (moved < 0) _exit(1);
    close(fds[i]);
    fds[i] = moved;
  }
  const int target[4] = { 0, 1, 2, BERTH_PLAN_FD };
  for (int i = 0; i < 4; i++) {
    if (dup2(fds[i], target[i]) < 0) _exit(1);
    close(fds[i]);
  }
}

int main(void) {
  await_go();
  /* Nothing of Node's may leak into a container: keep stdio, sync and plan only. */
  syscall(SYS_close_range, BERTH_PLAN_FD + 1, ~0U, 0);
  if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) fail(errno, "set close-on-exec on the sync socket");
  /* Until execve, our /proc/<pid>/exe is this binary: keep it out of reach of processes in the container. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  load_plan();

  move_self_to_cgroups();
  open_cgroups();
  if (plan.has_oom_score_adj) {
    char v[16];
    int n = snprintf(v, sizeof v, "%d", plan.oom_score_adj);
    if (write_file("/proc/self/oom_score_adj", v, (size_t)n) < 0) fail(errno, "set oom_score_adj %d", plan.oom_score_adj);
  }
  join_namespaces();

  /* The child waits for release so that SYNC_PID always reaches Node before anything the child says. */
  bool userns = (plan.clone_flags & CLONE_NEWUSER) != 0;
  bool cgroupns = (plan.clone_flags & CLONE_NEWCGROUP) != 0;
  int release[2];
  if (pipe2(release, O_CLOEXEC) < 0) fail(errno, "create release pipe");

  pid_t pid = clone_parent(plan.clone_flags & ~(uint32_t)CLONE_NEWCGROUP);
  if (pid < 0) fail(errno, "clone the container process");
  if (pid == 0) {
    close(release[1]);
    release_fd = release[0];
    for (size_t i = 0; i < plan.n_cgroup_procs; i++) close(cgroup_fds[i]);
    if (cgroup_dir_fd >= 0) close(cgroup_dir_fd);
    wait_release();
    if (plan.mode == PLAN_MODE_EXEC) exec_child();
    container_init(cgroupns);
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
  join_cgroups(pid);
  if (write(release[1], "2", 1) != 1) fail(errno, "release the container process");
  return 0;
}
