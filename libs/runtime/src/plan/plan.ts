// The plan: everything the C side does for one container or exec, computed in TypeScript (planner.ts) and
// serialized for berth-nsexec (format and sync protocol: native/src/common/protocol.h).
import { DeviceTag, MountKind, MountTag, PlanMode, PlanTag } from './tags.ts';
import { TlvWriter } from './writer.ts';

export interface PlanMount {
  kind: 'fs' | 'bind' | 'symlink' | 'remount';
  /** fs: the device/source string; bind: the host path; symlink: the link's target */
  source?: string;
  /** absolute path inside the container */
  dest: string;
  fstype?: string;
  flags: number;
  /** MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC), applied after mounting */
  propagation: number;
  data?: string;
}

export interface PlanDevice {
  path: string;
  type: 'c' | 'b' | 'p';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
  /** bind-mount the host's node (user namespaces cannot mknod) */
  bind: boolean;
}

export interface Capabilities {
  bounding: bigint;
  effective: bigint;
  inheritable: bigint;
  permitted: bigint;
  ambient: bigint;
}

export interface ProcessPlan {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask?: number;
  caps?: Capabilities;
  noNewPrivileges: boolean;
  rlimits: { resource: number; soft: bigint; hard: bigint }[];
  terminal: boolean;
  consoleSize?: { rows: number; cols: number };
  seccomp?: { bpf: Buffer; flags: number };
  setgroups: boolean;
}

export interface NamespaceJoin {
  /** CLONE_NEW* flag */
  type: number;
  path: string;
}

interface CommonPlan {
  /** v1 `tasks` files the helper writes "0" to (moving itself) before it clones the process */
  cgroupTasks: string[];
  /** cgroup.procs files the helper writes the process's pid to */
  cgroupProcs: string[];
  /** a cgroup2 directory the process is cloned straight into (CLONE_INTO_CGROUP) */
  cgroupDir?: string;
  joins: NamespaceJoin[];
  oomScoreAdj?: number;
  process: ProcessPlan;
}

export interface CreatePlan extends CommonPlan {
  mode: 'create';
  cloneFlags: number;
  uidMap?: string;
  gidMap?: string;
  rootfs: string;
  rootfsPropagation: number;
  readonlyRootfs: boolean;
  noPivot: boolean;
  mounts: PlanMount[];
  devices: PlanDevice[];
  maskedPaths: string[];
  readonlyPaths: string[];
  hostname?: string;
  domainname?: string;
  sysctls: [string, string][];
  fifo: string;
  hooksSync: boolean;
  mkdirCwd: boolean;
}

export interface ExecPlan extends CommonPlan {
  mode: 'exec';
}

export type Plan = CreatePlan | ExecPlan;

const KIND = { fs: MountKind.FS, bind: MountKind.BIND, symlink: MountKind.SYMLINK, remount: MountKind.REMOUNT } as const;

export function encodePlan(plan: Plan): Buffer {
  const w = new TlvWriter();
  w.u32(PlanTag.MODE, plan.mode === 'create' ? PlanMode.CREATE : PlanMode.EXEC);
  for (const f of plan.cgroupTasks) w.str(PlanTag.CGROUP_TASKS, f);
  for (const f of plan.cgroupProcs) w.str(PlanTag.CGROUP_PROCS, f);
  if (plan.cgroupDir) w.str(PlanTag.CGROUP_DIR, plan.cgroupDir);
  for (const j of plan.joins) {
    const start = w.begin(PlanTag.NS_JOIN);
    w.putU32(j.type).putStr(j.path).end(start);
  }
  if (plan.oomScoreAdj !== undefined) w.i32(PlanTag.OOM_SCORE_ADJ, plan.oomScoreAdj);
  if (plan.mode === 'create') {
    w.u32(PlanTag.CLONE_FLAGS, plan.cloneFlags);
    if (plan.uidMap) w.str(PlanTag.UID_MAP, plan.uidMap);
    if (plan.gidMap) w.str(PlanTag.GID_MAP, plan.gidMap);
    w.str(PlanTag.ROOTFS, plan.rootfs);
    if (plan.rootfsPropagation) w.u32(PlanTag.ROOTFS_PROPAGATION, plan.rootfsPropagation);
    w.bool(PlanTag.READONLY_ROOTFS, plan.readonlyRootfs);
    w.bool(PlanTag.NO_PIVOT, plan.noPivot);
    for (const m of plan.mounts) {
      const start = w.begin(PlanTag.MOUNT);
      w.u32(MountTag.KIND, KIND[m.kind]).str(MountTag.DEST, m.dest).u32(MountTag.FLAGS, m.flags).u32(MountTag.PROPAGATION, m.propagation);
      if (m.source !== undefined) w.str(MountTag.SOURCE, m.source);
      if (m.fstype !== undefined) w.str(MountTag.FSTYPE, m.fstype);
      if (m.data) w.str(MountTag.DATA, m.data);
      w.end(start);
    }
    for (const d of plan.devices) {
      const start = w.begin(PlanTag.DEVICE);
      w.str(DeviceTag.PATH, d.path).u32(DeviceTag.TYPE, d.type.charCodeAt(0)).u32(DeviceTag.MAJOR, d.major)
        .u32(DeviceTag.MINOR, d.minor).u32(DeviceTag.MODE, d.mode).u32(DeviceTag.UID, d.uid).u32(DeviceTag.GID, d.gid)
        .bool(DeviceTag.BIND, d.bind);
      w.end(start);
    }
    for (const p of plan.maskedPaths) w.str(PlanTag.MASKED, p);
    for (const p of plan.readonlyPaths) w.str(PlanTag.READONLY_PATH, p);
    if (plan.hostname !== undefined) w.str(PlanTag.HOSTNAME, plan.hostname);
    if (plan.domainname !== undefined) w.str(PlanTag.DOMAINNAME, plan.domainname);
    for (const [k, v] of plan.sysctls) w.str(PlanTag.SYSCTL, k, v);
    w.str(PlanTag.FIFO, plan.fifo);
    w.bool(PlanTag.HOOKS_SYNC, plan.hooksSync);
    w.bool(PlanTag.MKDIR_CWD, plan.mkdirCwd);
  }
  const p = plan.process;
  for (const a of p.args) w.str(PlanTag.ARG, a);
  for (const e of p.env) w.str(PlanTag.ENV, e);
  w.str(PlanTag.CWD, p.cwd);
  w.u32(PlanTag.UID, p.uid);
  w.u32(PlanTag.GID, p.gid);
  for (const g of p.additionalGids) w.u32(PlanTag.ADDITIONAL_GID, g);
  w.bool(PlanTag.SETGROUPS, p.setgroups);
  if (p.umask !== undefined) w.u32(PlanTag.UMASK, p.umask);
  if (p.caps) {
    const c = p.caps;
    const start = w.begin(PlanTag.CAPS);
    for (const set of [c.bounding, c.effective, c.inheritable, c.permitted, c.ambient]) w.putU64(set);
    w.end(start);
  }
  w.bool(PlanTag.NO_NEW_PRIVS, p.noNewPrivileges);
  for (const r of p.rlimits) {
    const start = w.begin(PlanTag.RLIMIT);
    w.putU32(r.resource).putU64(r.soft).putU64(r.hard).end(start);
  }
  w.bool(PlanTag.TERMINAL, p.terminal);
  if (p.consoleSize) {
    const start = w.begin(PlanTag.CONSOLE_SIZE);
    w.putU16(p.consoleSize.rows).putU16(p.consoleSize.cols).end(start);
  }
  if (p.seccomp) {
    w.raw(PlanTag.SECCOMP_BPF, p.seccomp.bpf);
    w.u32(PlanTag.SECCOMP_FLAGS, p.seccomp.flags);
  }
  return w.toBuffer();
}
