/* Decodes the TLV plan (format in ../common/protocol.h). Strings point into the plan buffer, which stays
 * mapped for the life of the process. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "nsexec.h"

struct rec { uint16_t tag; uint32_t len; const uint8_t *data; };

struct reader { const uint8_t *p, *end; };

static int next(struct reader *r, struct rec *out) {
  if (r->p == r->end) return 0;
  if (r->end - r->p < 8) return -1;
  uint16_t tag;
  uint32_t len;
  memcpy(&tag, r->p, 2);
  memcpy(&len, r->p + 4, 4);
  if ((size_t)(r->end - r->p - 8) < len) return -1;
  out->tag = tag;
  out->len = len;
  out->data = r->p + 8;
  r->p += 8 + len;
  return 1;
}

static const char *str_at(const struct rec *r, uint32_t off, uint32_t *used) {
  if (off >= r->len) return NULL;
  const char *s = (const char *)r->data + off;
  const char *nul = memchr(s, 0, r->len - off);
  if (!nul) return NULL;
  if (used) *used = (uint32_t)(nul - s) + 1;
  return s;
}

static uint32_t u32(const struct rec *r) {
  uint32_t v = 0;
  if (r->len >= 4) memcpy(&v, r->data, 4);
  return v;
}

#define PUSH(arr, n, val) do { \
    void *np = realloc((arr), sizeof(*(arr)) * ((n) + 1)); \
    if (!np) return -1; \
    (arr) = np; \
    (arr)[(n)++] = (val); \
  } while (0)

static int decode_mount(const struct rec *outer, struct plan_mount *m) {
  struct reader r = { outer->data, outer->data + outer->len };
  struct rec x;
  int rc;
  memset(m, 0, sizeof *m);
  while ((rc = next(&r, &x)) > 0) {
    switch (x.tag) {
      case MOUNT_KIND: m->kind = u32(&x); break;
      case MOUNT_SOURCE: m->source = str_at(&x, 0, NULL); break;
      case MOUNT_DEST: m->dest = str_at(&x, 0, NULL); break;
      case MOUNT_FSTYPE: m->fstype = str_at(&x, 0, NULL); break;
      case MOUNT_FLAGS: m->flags = u32(&x); break;
      case MOUNT_PROPAGATION: m->propagation = u32(&x); break;
      case MOUNT_DATA: m->data = str_at(&x, 0, NULL); break;
      case MOUNT_TARGET_FILE: m->target_file = u32(&x) != 0; break;
      default: break;
    }
  }
  if (rc < 0 || !m->dest || m->dest[0] != '/') return -1;
  return 0;
}

static int decode_device(const struct rec *outer, struct plan_device *d) {
  struct reader r = { outer->data, outer->data + outer->len };
  struct rec x;
  int rc;
  memset(d, 0, sizeof *d);
  while ((rc = next(&r, &x)) > 0) {
    switch (x.tag) {
      case DEVICE_PATH: d->path = str_at(&x, 0, NULL); break;
      case DEVICE_TYPE: d->type = u32(&x); break;
      case DEVICE_MAJOR: d->major = u32(&x); break;
      case DEVICE_MINOR: d->minor = u32(&x); break;
      case DEVICE_MODE: d->mode = u32(&x); break;
      case DEVICE_UID: d->uid = u32(&x); break;
      case DEVICE_GID: d->gid = u32(&x); break;
      case DEVICE_BIND: d->bind = u32(&x) != 0; break;
      default: break;
    }
  }
  if (rc < 0 || !d->path || d->path[0] != '/') return -1;
  return 0;
}

int plan_decode(const void *buf, size_t len, struct plan *p) {
  struct reader r = { buf, (const uint8_t *)buf + len };
  struct rec x;
  int rc;
  memset(p, 0, sizeof *p);
  p->rootfs_propagation = 0;
  p->setgroups = true;
  while ((rc = next(&r, &x)) > 0) {
    const char *s;
    uint32_t used;
    switch (x.tag) {
      case PLAN_MODE: p->mode = u32(&x); break;
      case PLAN_CGROUP_PROCS:
        if (!(s = str_at(&x, 0, NULL))) return -1;
        PUSH(p->cgroup_procs, p->n_cgroup_procs, s);
        break;
      case PLAN_CGROUP_TASKS:
        if (!(s = str_at(&x, 0, NULL))) return -1;
        PUSH(p->cgroup_tasks, p->n_cgroup_tasks, s);
        break;
      case PLAN_CGROUP_DIR: p->cgroup_dir = str_at(&x, 0, NULL); break;
      case PLAN_NS_JOIN: {
        struct ns_join j = { .type = u32(&x), .path = str_at(&x, 4, NULL) };
        if (!j.path) return -1;
        PUSH(p->joins, p->n_joins, j);
        break;
      }
      case PLAN_CLONE_FLAGS: p->clone_flags = u32(&x); break;
      case PLAN_UID_MAP: p->uid_map = str_at(&x, 0, NULL); break;
      case PLAN_GID_MAP: p->gid_map = str_at(&x, 0, NULL); break;
      case PLAN_OOM_SCORE_ADJ: p->has_oom_score_adj = true; p->oom_score_adj = (int32_t)u32(&x); break;
      case PLAN_ROOTFS: p->rootfs = str_at(&x, 0, NULL); break;
      case PLAN_ROOTFS_PROPAGATION: p->rootfs_propagation = u32(&x); break;
      case PLAN_READONLY_ROOTFS: p->readonly_rootfs = u32(&x) != 0; break;
      case PLAN_NO_PIVOT: p->no_pivot = u32(&x) != 0; break;
      case PLAN_MOUNT: {
        struct plan_mount m;
        if (decode_mount(&x, &m) < 0) return -1;
        PUSH(p->mounts, p->n_mounts, m);
        break;
      }
      case PLAN_DEVICE: {
        struct plan_device d;
        if (decode_device(&x, &d) < 0) return -1;
        PUSH(p->devices, p->n_devices, d);
        break;
      }
      case PLAN_MASKED:
        if (!(s = str_at(&x, 0, NULL))) return -1;
        PUSH(p->masked, p->n_masked, s);
        break;
      case PLAN_READONLY_PATH:
        if (!(s = str_at(&x, 0, NULL))) return -1;
        PUSH(p->readonly, p->n_readonly, s);
        break;
      case PLAN_HOSTNAME: p->hostname = str_at(&x, 0, NULL); break;
      case PLAN_DOMAINNAME: p->domainname = str_at(&x, 0, NULL); break;
      case PLAN_SYSCTL: {
        struct plan_sysctl sc;
        if (!(sc.key = str_at(&x, 0, &used)) || !(sc.value = str_at(&x, used, NULL))) return -1;
        PUSH(p->sysctls, p->n_sysctls, sc);
        break;
      }
      case PLAN_RLIMIT: {
        struct plan_rlimit rl;
        if (x.len < 20) return -1;
        memcpy(&rl.resource, x.data, 4);
        memcpy(&rl.soft, x.data + 4, 8);
        memcpy(&rl.hard, x.data + 12, 8);
        PUSH(p->rlimits, p->n_rlimits, rl);
        break;
      }
      case PLAN_UID: p->uid = u32(&x); break;
      case PLAN_GID: p->gid = u32(&x); break;
      case PLAN_ADDITIONAL_GID: PUSH(p->gids, p->n_gids, u32(&x)); break;
      case PLAN_SETGROUPS: p->setgroups = u32(&x) != 0; break;
      case PLAN_UMASK: p->has_umask = true; p->umask = u32(&x); break;
      case PLAN_CAPS:
        if (x.len < 40) return -1;
        p->has_caps = true;
        memcpy(&p->cap_bounding, x.data, 8);
        memcpy(&p->cap_effective, x.data + 8, 8);
        memcpy(&p->cap_inheritable, x.data + 16, 8);
        memcpy(&p->cap_permitted, x.data + 24, 8);
        memcpy(&p->cap_ambient, x.data + 32, 8);
        break;
      case PLAN_NO_NEW_PRIVS: p->no_new_privs = u32(&x) != 0; break;
      case PLAN_SECCOMP_BPF: p->seccomp = x.data; p->seccomp_len = x.len; break;
      case PLAN_SECCOMP_FLAGS: p->seccomp_flags = u32(&x); break;
      case PLAN_ARG:
        if (!(s = str_at(&x, 0, NULL))) return -1;
        PUSH(p->args, p->n_args, s);
        break;
      case PLAN_ENV:
        if (!(s = str_at(&x, 0, NULL))) return -1;
        PUSH(p->env, p->n_env, s);
        break;
      case PLAN_CWD: p->cwd = str_at(&x, 0, NULL); break;
      case PLAN_MKDIR_CWD: p->mkdir_cwd = u32(&x) != 0; break;
      case PLAN_TERMINAL: p->terminal = u32(&x) != 0; break;
      case PLAN_CONSOLE_SIZE:
        if (x.len < 4) return -1;
        memcpy(&p->rows, x.data, 2);
        memcpy(&p->cols, x.data + 2, 2);
        break;
      case PLAN_FIFO: p->fifo = str_at(&x, 0, NULL); break;
      case PLAN_HOOKS_SYNC: p->hooks_sync = u32(&x) != 0; break;
      default: errno = EPROTO; return -1; /* helper and planner ship together: an unknown step is a bug, never skipped */
    }
  }
  if (rc < 0 || p->n_args == 0) return -1;
  /* NULL-terminated argv/envp for execve */
  PUSH(p->args, p->n_args, NULL);
  p->n_args--;
  PUSH(p->env, p->n_env, NULL);
  p->n_env--;
  return 0;
}
