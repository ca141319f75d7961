// Turns a validated runtime spec into the plan berth-nsexec executes (plan/plan.ts). Pure computation plus
// a few host facts (does a bind source exist); everything that can be rejected is rejected here, before
// any cgroup, directory or process exists.
import { InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import type { LinuxDeviceCgroup, LinuxResources, Mount, Process, RuntimeSpec } from '@berth/oci';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Cgroup, CgroupLayout } from './cgroups/index.ts';
import type { CreatePlan, ExecPlan, NamespaceJoin, PlanDevice, PlanMount, ProcessPlan } from './plan/plan.ts';
import { capabilityMask } from './spec/capabilities.ts';
import { ALLOWED_DEVICE_RULES, DEFAULT_DEVICES } from './spec/devices.ts';
import { MS, parseMountOptions, parsePropagation } from './spec/mount-options.ts';
import { CLONE, NAMESPACES } from './spec/namespaces.ts';
import { rlimitNumber, toU64 } from './spec/rlimits.ts';
import { compileSeccomp } from './spec/seccomp.ts';

export interface CreateContext {
  bundle: string;
  rootfs: string;
  cgroup: Cgroup;
  layout: CgroupLayout;
  fifo: string;
  noPivot: boolean;
  seccompCache?: string;
}

/** Capability names the kernel table does not know, collected for a warning. */
export type Warnings = Set<string>;

function clean(p: string): string {
  return path.posix.normalize(`/${p}`).replace(/\/+$/, '') || '/';
}

export function namespacesOf(spec: RuntimeSpec): { cloneFlags: number; joins: NamespaceJoin[] } {
  let cloneFlags = 0;
  const joins: NamespaceJoin[] = [];
  for (const ns of spec.linux?.namespaces ?? []) {
    const info = NAMESPACES[ns.type];
    if (!info) throw new InvalidArgumentError(`unknown namespace type ${JSON.stringify(ns.type)}`);
    if (ns.path) {
      if (!existsSync(ns.path)) throw new NotFoundError(`${ns.type} namespace path ${ns.path} does not exist`);
      joins.push({ type: info.flag, path: ns.path });
    } else {
      cloneFlags |= info.flag;
    }
  }
  return { cloneFlags, joins };
}

function idMap(m: { containerID: number; hostID: number; size: number }[] | undefined): string | undefined {
  if (!m || m.length === 0) return undefined;
  return m.map((x) => `${x.containerID} ${x.hostID} ${x.size}\n`).join('');
}

export function planProcess(proc: Process, spec: RuntimeSpec, warnings: Warnings, seccompCache?: string): ProcessPlan {
  if (!proc.args || proc.args.length === 0) throw new InvalidArgumentError('process.args must not be empty');
  const c = proc.capabilities;
  const rlimits = (proc.rlimits ?? []).map((r) => {
    const resource = rlimitNumber(r.type);
    if (resource === undefined) throw new InvalidArgumentError(`unknown rlimit type ${JSON.stringify(r.type)}`);
    return { resource, soft: toU64(r.soft), hard: toU64(r.hard) };
  });
  const plan: ProcessPlan = {
    args: proc.args,
    env: proc.env ?? [],
    cwd: proc.cwd,
    uid: proc.user.uid,
    gid: proc.user.gid,
    additionalGids: proc.user.additionalGids ?? [],
    noNewPrivileges: proc.noNewPrivileges ?? false,
    rlimits,
    terminal: proc.terminal ?? false,
    setgroups: true,
  };
  if (proc.user.umask !== undefined) plan.umask = proc.user.umask;
  if (c) {
    plan.caps = {
      bounding: capabilityMask(c.bounding, warnings), effective: capabilityMask(c.effective, warnings),
      inheritable: capabilityMask(c.inheritable, warnings), permitted: capabilityMask(c.permitted, warnings),
      ambient: capabilityMask(c.ambient, warnings),
    };
  }
  if (proc.consoleSize && proc.consoleSize.height > 0 && proc.consoleSize.width > 0) {
    plan.consoleSize = { rows: proc.consoleSize.height, cols: proc.consoleSize.width };
  }
  if (spec.linux?.seccomp) plan.seccomp = compileSeccomp(spec.linux.seccomp, seccompCache);
  return plan;
}

function cgroupMounts(m: Mount, dest: string, ctx: CreateContext, cloneFlags: number): PlanMount[] {
  const opts = parseMountOptions(m.options);
  const base = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const ro = opts.flags & MS.RDONLY;
  if (ctx.layout.mode === 'v2') {
    if (cloneFlags & CLONE.NEWCGROUP) {
      return [{ kind: 'fs', source: 'cgroup', dest, fstype: 'cgroup2', flags: opts.flags | base, propagation: 0 }];
    }
    return [{ kind: 'bind', source: path.join(ctx.layout.unified!, ctx.cgroup.path), dest, flags: MS.BIND | MS.REC | opts.flags | base, propagation: 0 }];
  }
  // v1: a tmpfs with one bind of the container's own cgroup per hierarchy, read-only at the end if asked.
  const out: PlanMount[] = [{ kind: 'fs', source: 'tmpfs', dest, fstype: 'tmpfs', flags: base, data: 'mode=755', propagation: 0 }];
  for (const h of ctx.layout.hierarchies) {
    const name = h.controllers.map((c) => c.replace(/^name=/, '')).join(',');
    out.push({ kind: 'bind', source: path.join(h.mountpoint, ctx.cgroup.path), dest: `${dest}/${name}`, flags: MS.BIND | MS.REC | base | ro, propagation: 0 });
    if (h.controllers.length > 1) {
      for (const c of h.controllers) out.push({ kind: 'symlink', source: name, dest: `${dest}/${c}`, flags: 0, propagation: 0 });
    }
  }
  if (ro) out.push({ kind: 'remount', dest, flags: MS.RDONLY | base, data: 'mode=755', propagation: 0 });
  return out;
}

export function planMounts(spec: RuntimeSpec, ctx: CreateContext, cloneFlags: number): { mounts: PlanMount[]; setupDev: boolean } {
  const mounts: PlanMount[] = [];
  let devBind = false;
  for (const m of spec.mounts ?? []) {
    const dest = clean(m.destination);
    const opts = parseMountOptions(m.options);
    const isBind = m.type === 'bind' || opts.bind;
    if (isBind) {
      if (!m.source) throw new InvalidArgumentError(`mount ${dest}: a bind mount needs a source`);
      const source = path.resolve(ctx.bundle, m.source);
      if (!existsSync(source)) throw new NotFoundError(`mount ${dest}: bind source ${source} does not exist`);
      if (dest === '/dev') devBind = true;
      mounts.push({ kind: 'bind', source, dest, flags: opts.flags | MS.BIND, propagation: opts.propagation });
    } else if (m.type === 'cgroup') {
      mounts.push(...cgroupMounts(m, dest, ctx, cloneFlags));
    } else {
      if (!m.type) throw new InvalidArgumentError(`mount ${dest}: no type`);
      const mount: PlanMount = { kind: 'fs', source: m.source ?? m.type, dest, fstype: m.type, flags: opts.flags, propagation: opts.propagation };
      if (opts.data) mount.data = opts.data;
      mounts.push(mount);
    }
  }
  const setupDev = !devBind;
  if (setupDev) {
    const links: [string, string][] = [
      ['/proc/self/fd', '/dev/fd'], ['/proc/self/fd/0', '/dev/stdin'], ['/proc/self/fd/1', '/dev/stdout'],
      ['/proc/self/fd/2', '/dev/stderr'], ['pts/ptmx', '/dev/ptmx'],
    ];
    if (existsSync('/proc/kcore')) links.push(['/proc/kcore', '/dev/core']);
    for (const [target, link] of links) mounts.push({ kind: 'symlink', source: target, dest: link, flags: 0, propagation: 0 });
  }
  return { mounts, setupDev };
}

export function planDevices(spec: RuntimeSpec, setupDev: boolean, userns: boolean): PlanDevice[] {
  if (!setupDev) return [];
  const byPath = new Map<string, PlanDevice>();
  const add = (d: { path: string; type: string; major?: number; minor?: number; fileMode?: number; uid?: number; gid?: number }) => {
    if (d.type === 'u') d = { ...d, type: 'c' };
    byPath.set(clean(d.path), {
      path: clean(d.path), type: d.type as 'c' | 'b' | 'p', major: d.major ?? 0, minor: d.minor ?? 0,
      mode: d.fileMode ?? 0o666, uid: d.uid ?? 0, gid: d.gid ?? 0, bind: userns,
    });
  };
  DEFAULT_DEVICES.forEach(add);
  (spec.linux?.devices ?? []).forEach(add);
  return [...byPath.values()];
}

/** The resources to apply: the spec's, with the always-allowed device rules appended (runc's specconv). */
export function effectiveResources(spec: RuntimeSpec): LinuxResources | undefined {
  const r = spec.linux?.resources;
  const extra: LinuxDeviceCgroup[] = [
    ...ALLOWED_DEVICE_RULES,
    ...(spec.linux?.devices ?? []).map((d) => ({ allow: true, type: d.type === 'u' ? 'c' : d.type, major: d.major ?? null, minor: d.minor ?? null, access: 'rwm' })),
  ];
  return { ...r, devices: [...(r?.devices ?? []), ...extra] };
}

export function planCreate(spec: RuntimeSpec, ctx: CreateContext, warnings: Warnings): CreatePlan {
  const { cloneFlags, joins } = namespacesOf(spec);
  if (!(cloneFlags & CLONE.NEWNS)) throw new InvalidArgumentError('a new mount namespace is required (linux.namespaces must contain "mount" without a path)');
  const userns = (cloneFlags & CLONE.NEWUSER) !== 0;
  const uidMap = idMap(spec.linux?.uidMappings);
  const gidMap = idMap(spec.linux?.gidMappings);
  if (userns && (!uidMap || !gidMap)) throw new InvalidArgumentError('a new user namespace needs linux.uidMappings and linux.gidMappings');
  const hasUts = (spec.linux?.namespaces ?? []).some((n) => n.type === 'uts');
  if ((spec.hostname || spec.domainname) && !hasUts) {
    throw new InvalidArgumentError('unable to set hostname without a private UTS namespace');
  }
  let rootfsPropagation: number;
  try {
    rootfsPropagation = parsePropagation(spec.linux?.rootfsPropagation);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  const proc = spec.process;
  if (!proc) throw new InvalidArgumentError('config has no process');
  const { mounts, setupDev } = planMounts(spec, ctx, cloneFlags);
  const join = ctx.cgroup.joinPlan(effectiveResources(spec));
  const plan: CreatePlan = {
    mode: 'create',
    cgroupTasks: join.tasks,
    cgroupProcs: join.procs,
    joins,
    cloneFlags,
    rootfs: ctx.rootfs,
    rootfsPropagation,
    readonlyRootfs: spec.root?.readonly ?? false,
    noPivot: ctx.noPivot,
    mounts,
    devices: planDevices(spec, setupDev, userns),
    maskedPaths: spec.linux?.maskedPaths ?? [],
    readonlyPaths: spec.linux?.readonlyPaths ?? [],
    sysctls: Object.entries(spec.linux?.sysctl ?? {}),
    fifo: ctx.fifo,
    hooksSync: (spec.hooks?.prestart?.length ?? 0) + (spec.hooks?.createRuntime?.length ?? 0) > 0,
    mkdirCwd: true,
    process: planProcess(proc, spec, warnings, ctx.seccompCache),
  };
  if (join.cgroupDir) plan.cgroupDir = join.cgroupDir;
  if (uidMap) plan.uidMap = uidMap;
  if (gidMap) plan.gidMap = gidMap;
  if (spec.hostname) plan.hostname = spec.hostname;
  if (spec.domainname) plan.domainname = spec.domainname;
  if (proc.oomScoreAdj !== undefined) plan.oomScoreAdj = proc.oomScoreAdj;
  return plan;
}

/** An exec joins every namespace the container's init is in, by /proc/<pid>/ns/<name>. */
export function planExec(
  spec: RuntimeSpec, proc: Process, initPid: number, cgroup: Cgroup, warnings: Warnings, seccompCache?: string,
): ExecPlan {
  const joins: NamespaceJoin[] = (spec.linux?.namespaces ?? []).map((ns) => ({
    type: NAMESPACES[ns.type].flag,
    path: `/proc/${initPid}/ns/${NAMESPACES[ns.type].file}`,
  }));
  const join = cgroup.joinPlan();
  const plan: ExecPlan = {
    mode: 'exec',
    cgroupTasks: join.tasks,
    cgroupProcs: join.procs,
    joins,
    process: planProcess(proc, spec, warnings, seccompCache),
  };
  if (join.cgroupDir) plan.cgroupDir = join.cgroupDir;
  if (proc.oomScoreAdj !== undefined) plan.oomScoreAdj = proc.oomScoreAdj;
  return plan;
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
