/* The container's filesystem: propagation, the rootfs bind, spec mounts, devices, pivot_root (or MS_MOVE +
 * chroot), then, inside, masked paths, read-only paths and the read-only rootfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "nsexec.h"

static const char *fdpath(int fd) {
  static char buf[64];
  snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
  return buf;
}

/* Flags a remount must keep: in a user namespace the kernel locks them on mounts inherited from the host. */
static unsigned long locked_flags(const char *path) {
  struct statvfs s;
  unsigned long f = 0;
  if (statvfs(path, &s) < 0) return 0;
  if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (s.f_flag & ST_NODEV) f |= MS_NODEV;
  if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (s.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (s.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (s.f_flag & ST_RELATIME) f |= MS_RELATIME;
  if (s.f_flag & ST_RDONLY) f |= MS_RDONLY;
  return f;
}

static int remount(const char *path, unsigned long flags, const char *data) {
  if (mount(NULL, path, NULL, MS_REMOUNT | flags, data) == 0) return 0;
  if (errno != EPERM) return -1;
  return mount(NULL, path, NULL, MS_REMOUNT | flags | (locked_flags(path) & ~MS_RDONLY), data);
}

static void apply_propagation(const char *target, uint32_t propagation, const char *dest) {
  if (propagation && mount(NULL, target, NULL, propagation, NULL) < 0) {
    fail(errno, "set propagation of %s", dest);
  }
}

static void do_mount(int rootfd, const struct plan_mount *m) {
  const char *base;
  int fd, dir;
  const unsigned long bind_flags = MS_BIND | MS_REC;
  switch (m->kind) {
    case MOUNT_KIND_SYMLINK:
      dir = resolve_parent_in_rootfs(rootfd, m->dest, &base, "create symlink");
      if (symlinkat(m->source, dir, base) < 0 && errno != EEXIST) fail(errno, "symlink %s -> %s", m->dest, m->source);
      close(dir);
      return;
    case MOUNT_KIND_REMOUNT:
      fd = resolve_in_rootfs(rootfd, m->dest, RESOLVE_CREATE_NONE, "remount");
      if (remount(fdpath(fd), m->flags, m->data) < 0) fail(errno, "remount %s", m->dest);
      close(fd);
      return;
    case MOUNT_KIND_FS:
      fd = resolve_in_rootfs(rootfd, m->dest, RESOLVE_CREATE_DIR, "mount");
      if (mount(m->source, fdpath(fd), m->fstype, m->flags, m->data) < 0) {
        fail(errno, "mount %s on %s", m->fstype ? m->fstype : m->source, m->dest);
      }
      close(fd);
      if (m->propagation) {
        fd = resolve_in_rootfs(rootfd, m->dest, RESOLVE_CREATE_NONE, "mount");
        apply_propagation(fdpath(fd), m->propagation, m->dest);
        close(fd);
      }
      return;
    case MOUNT_KIND_BIND: {
      struct stat st;
      if (stat(m->source, &st) < 0) fail(errno, "bind mount %s on %s: stat source", m->source, m->dest);
      fd = resolve_in_rootfs(rootfd, m->dest, S_ISDIR(st.st_mode) ? RESOLVE_CREATE_DIR : RESOLVE_CREATE_FILE, "mount");
      if (mount(m->source, fdpath(fd), NULL, m->flags & bind_flags, NULL) < 0) {
        fail(errno, "bind mount %s on %s", m->source, m->dest);
      }
      close(fd);
      /* Re-resolve: the old fd names the directory under the new mount, and remounts must hit the mount. */
      fd = resolve_in_rootfs(rootfd, m->dest, RESOLVE_CREATE_NONE, "mount");
      unsigned long extra = m->flags & ~bind_flags;
      if (extra && remount(fdpath(fd), MS_BIND | extra, NULL) < 0) fail(errno, "remount bind mount %s", m->dest);
      apply_propagation(fdpath(fd), m->propagation, m->dest);
      close(fd);
      return;
    }
    default:
      fail(EINVAL, "mount %s: unknown kind %u", m->dest, m->kind);
  }
}

static void make_device(int rootfd, const struct plan_device *d) {
  const char *base;
  int dir = resolve_parent_in_rootfs(rootfd, d->path, &base, "create device");
  if (d->bind) {
    int f = openat(dir, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0000);
    if (f < 0) fail(errno, "create device %s", d->path);
    close(f);
    int fd = resolve_in_rootfs(rootfd, d->path, RESOLVE_CREATE_NONE, "create device");
    if (mount(d->path, fdpath(fd), NULL, MS_BIND, NULL) < 0) fail(errno, "bind mount device %s", d->path);
    close(fd);
  } else {
    mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
    if (unlinkat(dir, base, 0) < 0 && errno != ENOENT) fail(errno, "create device %s: remove old node", d->path);
    if (mknodat(dir, base, type | (d->mode & 07777), makedev(d->major, d->minor)) < 0) fail(errno, "mknod %s", d->path);
    if (fchownat(dir, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0) fail(errno, "chown device %s", d->path);
  }
  close(dir);
}

static int do_pivot_root(const char *rootfs) {
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) fail(errno, "open old root");
  int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (newroot < 0) fail(errno, "open rootfs %s", rootfs);
  if (fchdir(newroot) < 0) fail(errno, "chdir to rootfs %s", rootfs);
  if (syscall(SYS_pivot_root, ".", ".") < 0) {
    int e = errno;
    close(oldroot);
    close(newroot);
    errno = e;
    return -1;
  }
  /* The old root is now stacked under the new one at "/": detach it without propagating to the host. */
  if (fchdir(oldroot) < 0) fail(errno, "chdir to old root");
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) fail(errno, "make old root rslave");
  if (umount2(".", MNT_DETACH) < 0) fail(errno, "unmount old root");
  if (chdir("/") < 0) fail(errno, "chdir to /");
  close(oldroot);
  close(newroot);
  return 0;
}

/* For roots where pivot_root is impossible (ramfs initramfs, noPivotRoot): move the rootfs over "/" and
 * chroot. Weaker than pivot_root (the host's mounts stay in the namespace, under the chroot). */
static void move_root(const char *rootfs) {
  if (chdir(rootfs) < 0) fail(errno, "chdir to rootfs %s", rootfs);
  if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0) fail(errno, "move rootfs %s to /", rootfs);
  if (chroot(".") < 0) fail(errno, "chroot to rootfs %s", rootfs);
  if (chdir("/") < 0) fail(errno, "chdir to /");
}

void setup_rootfs(struct plan *p, int *fifo_fd) {
  unsigned long prop = p->rootfs_propagation ? p->rootfs_propagation : (MS_SLAVE | MS_REC);
  if (mount(NULL, "/", NULL, prop, NULL) < 0) fail(errno, "set propagation of /");
  if (mount(p->rootfs, p->rootfs, "bind", MS_BIND | MS_REC, NULL) < 0) fail(errno, "bind mount rootfs %s", p->rootfs);
  /* pivot_root refuses a shared new root; the requested propagation is restored after the pivot. */
  if (prop & MS_SHARED) {
    if (mount(NULL, p->rootfs, NULL, MS_PRIVATE, NULL) < 0) fail(errno, "make rootfs private");
  }
  int rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) fail(errno, "open rootfs %s", p->rootfs);

  for (size_t i = 0; i < p->n_mounts; i++) do_mount(rootfd, &p->mounts[i]);
  for (size_t i = 0; i < p->n_devices; i++) make_device(rootfd, &p->devices[i]);
  if (p->mkdir_cwd && p->cwd) close(resolve_in_rootfs(rootfd, p->cwd, RESOLVE_CREATE_DIR, "create cwd"));
  close(rootfd);

  if (p->fifo) {
    /* Held open read-write so `start` can open it O_WRONLY|O_NONBLOCK (ENXIO once the init is gone). */
    *fifo_fd = open(p->fifo, O_RDWR | O_CLOEXEC);
    if (*fifo_fd < 0) fail(errno, "open exec fifo %s", p->fifo);
  }
  if (p->hooks_sync) {
    if (sync_send(SYNC_HOOKS, 0, -1) < 0) fail(errno, "request prestart hooks");
    if (sync_wait(SYNC_CONTINUE) < 0) fail(errno, "wait for prestart hooks");
  }

  if (p->no_pivot || do_pivot_root(p->rootfs) < 0) {
    if (!p->no_pivot && errno != EINVAL) fail(errno, "pivot_root to %s", p->rootfs);
    move_root(p->rootfs);
  }
  if (prop & MS_SHARED) {
    if (mount(NULL, "/", NULL, prop, NULL) < 0) fail(errno, "set propagation of the new /");
  }
}

void finish_rootfs(struct plan *p) {
  /* sysctls first: /proc/sys is usually among the read-only paths */
  for (size_t i = 0; i < p->n_sysctls; i++) {
    char path[512];
    int n = snprintf(path, sizeof path, "/proc/sys/%s", p->sysctls[i].key);
    if (n < 0 || (size_t)n >= sizeof path) fail(ENAMETOOLONG, "sysctl %s", p->sysctls[i].key);
    for (char *c = path + 10; *c; c++) if (*c == '.') *c = '/';
    if (write_file(path, p->sysctls[i].value, strlen(p->sysctls[i].value)) < 0) {
      fail(errno, "sysctl %s=%s", p->sysctls[i].key, p->sysctls[i].value);
    }
  }
  for (size_t i = 0; i < p->n_readonly; i++) {
    const char *path = p->readonly[i];
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
      if (errno == ENOENT) continue;
      fail(errno, "bind read-only path %s", path);
    }
    if (remount(path, MS_BIND | MS_RDONLY, NULL) < 0) {
      fail(errno, "remount read-only path %s", path);
    }
  }
  for (size_t i = 0; i < p->n_masked; i++) {
    const char *path = p->masked[i];
    struct stat st;
    if (stat(path, &st) < 0) {
      if (errno == ENOENT) continue;
      fail(errno, "mask %s", path);
    }
    int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) : mount("/dev/null", path, NULL, MS_BIND, NULL);
    if (rc < 0) fail(errno, "mask %s", path);
  }
  if (p->readonly_rootfs && remount("/", MS_BIND | MS_RDONLY, NULL) < 0) fail(errno, "remount / read-only");
}
