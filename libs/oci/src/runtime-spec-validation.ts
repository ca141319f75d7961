// Structural validation of a runtime spec (config.json) before any work is done: each error names the field
// (`linux.namespaces[2].type: unknown namespace type "foo"`). Semantics that need the host (does the rootfs
// exist, is a namespace path valid) are the runtime's business.
import { ValidationError } from './errors.ts';
import type { LinuxNamespaceType, RuntimeSpec } from './runtime-spec.ts';

const NAMESPACE_TYPES: readonly LinuxNamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(at: string, what: string): never {
  throw new ValidationError(`${at}: ${what}`);
}

function obj(v: unknown, at: string, required = false): Obj | undefined {
  if (v === undefined || v === null) return required ? fail(at, 'missing') : undefined;
  return isObj(v) ? v : fail(at, 'must be an object');
}

function str(v: unknown, at: string, required = false): string | undefined {
  if (v === undefined) return required ? fail(at, 'missing') : undefined;
  return typeof v === 'string' ? v : fail(at, 'must be a string');
}

function num(v: unknown, at: string, required = false): number | undefined {
  if (v === undefined || (v === null && !required)) return required ? fail(at, 'missing') : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : fail(at, 'must be a number');
}

function bool(v: unknown, at: string): boolean | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'boolean' ? v : fail(at, 'must be a boolean');
}

function arr(v: unknown, at: string): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? v : fail(at, 'must be an array');
}

function strings(v: unknown, at: string): string[] | undefined {
  const a = arr(v, at);
  a?.forEach((s, i) => str(s, `${at}[${i}]`, true));
  return a as string[] | undefined;
}

function idMappings(v: unknown, at: string): void {
  arr(v, at)?.forEach((m, i) => {
    const o = obj(m, `${at}[${i}]`, true)!;
    for (const k of ['containerID', 'hostID', 'size']) num(o[k], `${at}[${i}].${k}`, true);
  });
}

/**
 * Checks that `value` (parsed config.json) has the runtime spec's shape and returns it typed. With
 * `requireProcess` (create/run), `process` with non-empty `args` and an absolute `cwd` must be present.
 */
export function validateRuntimeSpec(value: unknown, opts: { requireProcess?: boolean } = {}): RuntimeSpec {
  const spec = obj(value, 'config', true)!;
  str(spec.ociVersion, 'ociVersion', true);
  const root = obj(spec.root, 'root');
  if (root) {
    str(root.path, 'root.path', true);
    bool(root.readonly, 'root.readonly');
  }
  str(spec.hostname, 'hostname');
  str(spec.domainname, 'domainname');
  arr(spec.mounts, 'mounts')?.forEach((m, i) => {
    const at = `mounts[${i}]`;
    const o = obj(m, at, true)!;
    const dest = str(o.destination, `${at}.destination`, true)!;
    if (!dest.startsWith('/')) fail(`${at}.destination`, `${JSON.stringify(dest)} is not an absolute path`);
    str(o.type, `${at}.type`);
    str(o.source, `${at}.source`);
    strings(o.options, `${at}.options`);
  });
  const proc = obj(spec.process, 'process', opts.requireProcess);
  if (proc) {
    bool(proc.terminal, 'process.terminal');
    const user = obj(proc.user, 'process.user', true)!;
    num(user.uid, 'process.user.uid', true);
    num(user.gid, 'process.user.gid', true);
    num(user.umask, 'process.user.umask');
    arr(user.additionalGids, 'process.user.additionalGids')?.forEach((g, i) => num(g, `process.user.additionalGids[${i}]`, true));
    const args = strings(proc.args, 'process.args');
    if (opts.requireProcess && (!args || args.length === 0)) fail('process.args', 'must not be empty');
    strings(proc.env, 'process.env');
    const cwd = str(proc.cwd, 'process.cwd', true)!;
    if (!cwd.startsWith('/')) fail('process.cwd', `${JSON.stringify(cwd)} is not an absolute path`);
    const caps = obj(proc.capabilities, 'process.capabilities');
    if (caps) for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']) strings(caps[set], `process.capabilities.${set}`);
    arr(proc.rlimits, 'process.rlimits')?.forEach((r, i) => {
      const o = obj(r, `process.rlimits[${i}]`, true)!;
      str(o.type, `process.rlimits[${i}].type`, true);
      num(o.hard, `process.rlimits[${i}].hard`, true);
      num(o.soft, `process.rlimits[${i}].soft`, true);
    });
    bool(proc.noNewPrivileges, 'process.noNewPrivileges');
    num(proc.oomScoreAdj, 'process.oomScoreAdj');
    const size = obj(proc.consoleSize, 'process.consoleSize');
    if (size) {
      num(size.height, 'process.consoleSize.height', true);
      num(size.width, 'process.consoleSize.width', true);
    }
  }
  const hooks = obj(spec.hooks, 'hooks');
  if (hooks) {
    for (const [kind, list] of Object.entries(hooks)) {
      arr(list, `hooks.${kind}`)?.forEach((h, i) => {
        const o = obj(h, `hooks.${kind}[${i}]`, true)!;
        str(o.path, `hooks.${kind}[${i}].path`, true);
        strings(o.args, `hooks.${kind}[${i}].args`);
        strings(o.env, `hooks.${kind}[${i}].env`);
        num(o.timeout, `hooks.${kind}[${i}].timeout`);
      });
    }
  }
  const annotations = obj(spec.annotations, 'annotations');
  if (annotations) for (const [k, v] of Object.entries(annotations)) str(v, `annotations.${k}`, true);
  const linux = obj(spec.linux, 'linux');
  if (linux) {
    const seen = new Set<string>();
    arr(linux.namespaces, 'linux.namespaces')?.forEach((n, i) => {
      const at = `linux.namespaces[${i}]`;
      const o = obj(n, at, true)!;
      const type = str(o.type, `${at}.type`, true)!;
      if (!NAMESPACE_TYPES.includes(type as LinuxNamespaceType)) fail(`${at}.type`, `unknown namespace type ${JSON.stringify(type)}`);
      if (seen.has(type)) fail(`${at}.type`, `duplicate namespace type ${JSON.stringify(type)}`);
      seen.add(type);
      str(o.path, `${at}.path`);
    });
    idMappings(linux.uidMappings, 'linux.uidMappings');
    idMappings(linux.gidMappings, 'linux.gidMappings');
    const sysctl = obj(linux.sysctl, 'linux.sysctl');
    if (sysctl) for (const [k, v] of Object.entries(sysctl)) str(v, `linux.sysctl.${k}`, true);
    str(linux.cgroupsPath, 'linux.cgroupsPath');
    str(linux.rootfsPropagation, 'linux.rootfsPropagation');
    strings(linux.maskedPaths, 'linux.maskedPaths');
    strings(linux.readonlyPaths, 'linux.readonlyPaths');
    arr(linux.devices, 'linux.devices')?.forEach((d, i) => {
      const at = `linux.devices[${i}]`;
      const o = obj(d, at, true)!;
      str(o.path, `${at}.path`, true);
      const type = str(o.type, `${at}.type`, true)!;
      if (!['c', 'b', 'u', 'p'].includes(type)) fail(`${at}.type`, `unknown device type ${JSON.stringify(type)}`);
      for (const k of ['major', 'minor', 'fileMode', 'uid', 'gid']) num(o[k], `${at}.${k}`);
    });
    const resources = obj(linux.resources, 'linux.resources');
    if (resources) {
      for (const section of ['memory', 'cpu', 'pids', 'blockIO']) obj(resources[section], `linux.resources.${section}`);
      arr(resources.devices, 'linux.resources.devices')?.forEach((d, i) => {
        const o = obj(d, `linux.resources.devices[${i}]`, true)!;
        if (typeof o.allow !== 'boolean') fail(`linux.resources.devices[${i}].allow`, 'must be a boolean');
      });
    }
    const seccomp = obj(linux.seccomp, 'linux.seccomp');
    if (seccomp) {
      str(seccomp.defaultAction, 'linux.seccomp.defaultAction', true);
      strings(seccomp.architectures, 'linux.seccomp.architectures');
      strings(seccomp.flags, 'linux.seccomp.flags');
      arr(seccomp.syscalls, 'linux.seccomp.syscalls')?.forEach((s, i) => {
        const o = obj(s, `linux.seccomp.syscalls[${i}]`, true)!;
        strings(o.names, `linux.seccomp.syscalls[${i}].names`);
        str(o.action, `linux.seccomp.syscalls[${i}].action`, true);
      });
    }
  }
  return spec as unknown as RuntimeSpec;
}
