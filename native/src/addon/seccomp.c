/* Compiles an OCI seccomp profile to classic BPF with libseccomp, in the Node process; the container's init
 * loads the bytes with seccomp(2) as its last step, so the static helper needs no libseccomp. Syscall names
 * this libseccomp does not know are skipped (runc does the same), and a rule whose action equals the default
 * is redundant and skipped. Several conditions on one argument become separate rules (OR), as in runc. */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "berth.h"

static int add_rule(scmp_filter_ctx ctx, const struct berth_seccomp_rule *r, int nr, struct berth_err *e) {
  bool repeated = false;
  for (size_t i = 0; i < r->n_args && !repeated; i++) {
    for (size_t j = i + 1; j < r->n_args; j++) if (r->args[i].index == r->args[j].index) repeated = true;
  }
  struct scmp_arg_cmp cmp[6];
  if (r->n_args > 6 && !repeated) return berth_fail(e, EINVAL, "seccomp rule for %s: too many arguments", r->name);
  size_t groups = repeated ? r->n_args : 1;
  for (size_t g = 0; g < groups; g++) {
    size_t n = 0;
    for (size_t i = 0; i < r->n_args; i++) {
      if (repeated && i != g) continue;
      const struct berth_seccomp_arg *a = &r->args[i];
      if (a->op < SCMP_CMP_NE || a->op > SCMP_CMP_MASKED_EQ || a->index > 5) {
        return berth_fail(e, EINVAL, "seccomp rule for %s: bad argument condition", r->name);
      }
      cmp[n++] = (struct scmp_arg_cmp){ .arg = a->index, .op = (enum scmp_compare)a->op, .datum_a = a->value, .datum_b = a->value_two };
    }
    int rc = seccomp_rule_add_array(ctx, r->action, nr, (unsigned)n, cmp);
    if (rc < 0) return berth_fail(e, -rc, "add seccomp rule for %s", r->name);
  }
  return 0;
}

int berth_seccomp_compile(const struct berth_seccomp_profile *p, void **bpf, size_t *len, struct berth_err *e) {
  int rc = -1, memfd = -1;
  scmp_filter_ctx ctx = seccomp_init(p->default_action);
  if (!ctx) return berth_fail(e, EINVAL, "initialise the seccomp filter");
  /* We set no_new_privs ourselves, at the right moment. */
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  for (size_t i = 0; i < p->n_arches; i++) {
    uint32_t arch = seccomp_arch_resolve_name(p->arches[i]);
    if (arch == 0) {
      berth_fail(e, EINVAL, "seccomp architecture %s is unknown", p->arches[i]);
      goto out;
    }
    int r = seccomp_arch_add(ctx, arch);
    if (r < 0 && r != -EEXIST) {
      berth_fail(e, -r, "add seccomp architecture %s", p->arches[i]);
      goto out;
    }
  }
  for (size_t i = 0; i < p->n_rules; i++) {
    const struct berth_seccomp_rule *r = &p->rules[i];
    if (r->action == p->default_action) continue;
    int nr = seccomp_syscall_resolve_name(r->name);
    if (nr == __NR_SCMP_ERROR) continue;
    if (add_rule(ctx, r, nr, e) < 0) goto out;
  }
  memfd = memfd_create("berth-seccomp", MFD_CLOEXEC);
  if (memfd < 0) {
    berth_fail(e, errno, "create memfd for the seccomp filter");
    goto out;
  }
  int r = seccomp_export_bpf(ctx, memfd);
  if (r < 0) {
    berth_fail(e, -r, "export the seccomp filter");
    goto out;
  }
  struct stat st;
  if (fstat(memfd, &st) < 0) {
    berth_fail(e, errno, "stat the seccomp filter");
    goto out;
  }
  *len = (size_t)st.st_size;
  *bpf = malloc(*len ? *len : 1);
  if (!*bpf || pread(memfd, *bpf, *len, 0) != (ssize_t)*len) {
    free(*bpf);
    *bpf = NULL;
    berth_fail(e, EIO, "read the seccomp filter");
    goto out;
  }
  rc = 0;
out:
  if (memfd >= 0) close(memfd);
  seccomp_release(ctx);
  return rc;
}
