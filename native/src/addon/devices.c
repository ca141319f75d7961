/* cgroup v2 device rules: v1's devices.allow/deny list compiled into a BPF_PROG_TYPE_CGROUP_DEVICE program and
 * attached (BPF_F_ALLOW_MULTI) to the container's cgroup, replacing the program berth attached before.
 *
 * Semantics are v1's: the last rule that matches a device decides; a device no rule matches is allowed (a v1
 * cgroup starts as allow-all; specs begin with "deny all"). The program checks the rules from last to first:
 *
 *   r2 = type, r3 = access, r4 = major, r5 = minor          (from struct bpf_cgroup_dev_ctx)
 *   for each rule, last first:
 *     type  != rule.type              → next rule   (unless the rule's type is 'a')
 *     access & ~rule.access           → next rule   (every requested access must be covered)
 *     major != rule.major             → next rule   (unless wildcard)
 *     minor != rule.minor             → next rule   (unless wildcard)
 *     return rule.allow
 *   return 1                                              (unless a rule without conditions came first) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "berth.h"

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

int berth_device_filter(const struct berth_device_rule *rules, size_t n, struct bpf_insn **out, size_t *len) {
  /* 4 loads + up to 6 instructions per rule + 2 for the default */
  struct bpf_insn *p = calloc(8 + n * 8, sizeof *p);
  if (!p) return -1;
  size_t i = 0;
  bool unconditional = false;
  p[i++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);   /* r2 = access_type */
  p[i++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xFFFF);      /* r2 &= 0xffff (type) */
  p[i++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 0, 0);   /* r3 = access_type */
  p[i++] = INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);          /* r3 >>= 16 (access) */
  p[i++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0);   /* r4 = major */
  p[i++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0);   /* r5 = minor */
  for (size_t k = n; k-- > 0;) {
    const struct berth_device_rule *r = &rules[k];
    struct bpf_insn b[8];
    size_t m = 0, jumps[4], nj = 0;
    if (r->type != 'a') {
      jumps[nj++] = m;
      b[m++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
    }
    if ((r->access & 7) != 7) {
      b[m++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_3, 0, 0);
      b[m++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_0, 0, 0, (int)(~r->access & 7));
      jumps[nj++] = m;
      b[m++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 0, 0);
    }
    if (r->major >= 0) {
      jumps[nj++] = m;
      b[m++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, r->major);
    }
    if (r->minor >= 0) {
      jumps[nj++] = m;
      b[m++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, r->minor);
    }
    b[m++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
    b[m++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    /* a failed condition skips to the end of this rule's block, i.e. to the previous rule */
    for (size_t j = 0; j < nj; j++) b[jumps[j]].off = (short)(m - jumps[j] - 1);
    memcpy(&p[i], b, m * sizeof *b);
    i += m;
    /* a rule without conditions decides everything: earlier rules and the default are unreachable (and the
     * verifier rejects unreachable code) */
    if (nj == 0) {
      unconditional = true;
      break;
    }
  }
  if (!unconditional) {
    p[i++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
    p[i++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
  *out = p;
  *len = i;
  return 0;
}

int berth_attach_device_filter(const char *cgroup_dir, const struct berth_device_rule *rules, size_t n, struct berth_err *e) {
  struct bpf_insn *insns = NULL;
  size_t len = 0;
  int rc = -1, prog = -1, cg = -1;
  uint32_t old_ids[64];
  union bpf_attr attr;
  char log[4096] = "";

  if (berth_device_filter(rules, n, &insns, &len) < 0) return berth_fail(e, ENOMEM, "build the device filter");
  cg = open(cgroup_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (cg < 0) {
    berth_fail(e, errno, "open cgroup %s", cgroup_dir);
    goto out;
  }
  /* the programs attached before (an update replaces them) */
  memset(&attr, 0, sizeof attr);
  attr.query.target_fd = (uint32_t)cg;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (uint64_t)(uintptr_t)old_ids;
  attr.query.prog_cnt = 64;
  uint32_t n_old = 0;
  if (sys_bpf(BPF_PROG_QUERY, &attr) == 0) n_old = attr.query.prog_cnt;

  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = (uint32_t)len;
  attr.license = (uint64_t)(uintptr_t)"Apache-2.0";
  attr.log_buf = (uint64_t)(uintptr_t)log;
  attr.log_size = sizeof log;
  attr.log_level = 1;
  prog = (int)sys_bpf(BPF_PROG_LOAD, &attr);
  if (prog < 0) {
    berth_fail(e, errno, "load the device filter for %s (%s)", cgroup_dir, log);
    goto out;
  }
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)cg;
  attr.attach_bpf_fd = (uint32_t)prog;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) {
    berth_fail(e, errno, "attach the device filter to %s", cgroup_dir);
    goto out;
  }
  for (uint32_t k = 0; k < n_old && k < 64; k++) {
    memset(&attr, 0, sizeof attr);
    attr.prog_id = old_ids[k];
    int old = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
    if (old < 0) continue;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cg;
    attr.attach_bpf_fd = (uint32_t)old;
    attr.attach_type = BPF_CGROUP_DEVICE;
    sys_bpf(BPF_PROG_DETACH, &attr);
    close(old);
  }
  rc = 0;
out:
  if (prog >= 0) close(prog);
  if (cg >= 0) close(cg);
  free(insns);
  return rc;
}
