// The spec's seccomp section → the flat profile the addon compiles with libseccomp (actions as SCMP_ACT_*
// values, architectures as libseccomp names). Compiled filters are cached by content hash: every Docker
// container carries the same ~350-rule default profile.
import { InvalidArgumentError } from '@berth/errdefs';
import type { LinuxSeccomp, SeccompAction, SeccompOperator } from '@berth/oci';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { native, type SeccompProfile } from '../native.ts';

const EPERM = 1;

function action(a: SeccompAction, errnoRet: number | undefined, at: string): number {
  switch (a) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return 0;
    case 'SCMP_ACT_KILL_PROCESS': return 0x80000000;
    case 'SCMP_ACT_TRAP': return 0x00030000;
    case 'SCMP_ACT_ERRNO': return (0x00050000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE': return (0x7ff00000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_LOG': return 0x7ffc0000;
    case 'SCMP_ACT_ALLOW': return 0x7fff0000;
    case 'SCMP_ACT_NOTIFY': throw new InvalidArgumentError(`${at}: SCMP_ACT_NOTIFY is not supported (no seccomp listener)`);
    default: throw new InvalidArgumentError(`${at}: unknown seccomp action ${JSON.stringify(a)}`);
  }
}

const OPS: Record<SeccompOperator, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};

const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

function arch(name: string): string {
  const n = name.replace(/^SCMP_ARCH_/, '').toLowerCase();
  return n === 'x86_64' ? 'x86_64' : n;
}

function u64(v: number | undefined): bigint {
  if (v === undefined || v < 0) return 0n;
  return v >= 2 ** 64 ? (1n << 64n) - 1n : BigInt(Math.trunc(v));
}

export function seccompProfile(s: LinuxSeccomp): { profile: SeccompProfile; flags: number } {
  const profile: SeccompProfile = {
    defaultAction: action(s.defaultAction, s.defaultErrnoRet, 'linux.seccomp.defaultAction'),
    architectures: (s.architectures ?? []).map(arch),
    syscalls: [],
  };
  (s.syscalls ?? []).forEach((rule, i) => {
    const at = `linux.seccomp.syscalls[${i}]`;
    const act = action(rule.action, rule.errnoRet, at);
    const args = (rule.args ?? []).map((a, j) => {
      const op = OPS[a.op];
      if (op === undefined) throw new InvalidArgumentError(`${at}.args[${j}]: unknown operator ${JSON.stringify(a.op)}`);
      return { index: a.index, value: u64(a.value), valueTwo: u64(a.valueTwo), op };
    });
    for (const name of rule.names ?? []) profile.syscalls.push({ name, action: act, args });
  });
  let flags = 0;
  for (const f of s.flags ?? []) {
    const bit = FLAGS[f];
    if (bit === undefined) throw new InvalidArgumentError(`linux.seccomp.flags: unsupported flag ${JSON.stringify(f)}`);
    flags |= bit;
  }
  return { profile, flags };
}

/**
 * A 128-bit key for the compiled-filter cache: four multiply-xor lanes over the profile's JSON, each finished with
 * an avalanche step, plus its length. Not a cryptographic hash (the cache directory is root's own); it replaces
 * sha256 because loading node:crypto was ~7% of a shim's CPU from spawn to a created container.
 */
export function profileKey(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  let c = 0x85ebca6b;
  let d = 0xc2b2ae35;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0x5bd1e995) ^ (a >>> 13);
    c = Math.imul(c ^ ch, 0x27d4eb2f) + b;
    d = Math.imul(d ^ ch, 0x165667b1) ^ (c >>> 17);
  }
  const fin = (h: number): string => {
    let x = h ^ text.length;
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    return ((x ^ (x >>> 16)) >>> 0).toString(16).padStart(8, '0');
  };
  return fin(a) + fin(b) + fin(c) + fin(d);
}

/** Compiles the spec's filter to BPF; with `cacheDir`, reuses an earlier compilation of the same profile. */
export function compileSeccomp(s: LinuxSeccomp, cacheDir?: string): { bpf: Buffer; flags: number } {
  const { profile, flags } = seccompProfile(s);
  if (!cacheDir) return { bpf: native().compileSeccomp(profile), flags };
  const key = profileKey(JSON.stringify(profile, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  const file = path.join(cacheDir, `seccomp-${key}.bpf`);
  try {
    return { bpf: readFileSync(file), flags };
  } catch {
    const bpf = native().compileSeccomp(profile);
    try {
      mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, bpf);
      renameSync(tmp, file);
    } catch {
      // the cache is an optimisation; a read-only root just compiles every time
    }
    return { bpf, flags };
  }
}
