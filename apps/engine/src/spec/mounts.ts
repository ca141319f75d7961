/**
 * A container's mounts from Docker's three spellings — `HostConfig.Binds` (`-v`), `HostConfig.Mounts`
 * (`--mount`), `HostConfig.Tmpfs` (`--tmpfs`) — plus the image's `VOLUME`s, validated at create time with
 * Docker's messages and kept in the container record. Volume mounts name their volume; the volumes extension
 * creates and locates them.
 */
import path from 'node:path';
import { InvalidArgumentError } from '@berth/errdefs';
import type { HostConfig, Mount as ApiMount } from '@berth/docker-api';
import type { MountRecord } from '../containers/record.ts';

const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
const DEFAULT_PROPAGATION = 'rprivate';

function cleanTarget(target: string, spec: string): string {
  if (!target.startsWith('/')) throw new InvalidArgumentError(`invalid mount config: invalid mount path: '${target}' mount path must be absolute`);
  const clean = path.posix.normalize(target);
  if (clean === '/' && spec) throw new InvalidArgumentError(`invalid specification: destination can't be '/' in '${spec}'`);
  return clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
}

/** A volume name as Docker accepts it. */
export function validVolumeName(name: string): boolean {
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name);
}

/** One `-v` spec: `/dst`, `name:/dst[:opts]`, `/src:/dst[:opts]`. */
export function parseBind(spec: string): MountRecord {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '') || spec === '') throw new InvalidArgumentError(`invalid volume specification: '${spec}'`);
  let src = '';
  let dst: string;
  let opts = '';
  if (parts.length === 1) {
    dst = parts[0]!;
  } else if (parts.length === 2) {
    // `/dst:ro` is an anonymous volume with options; `src:/dst` a bind or named volume.
    if (parts[1]!.startsWith('/')) [src, dst] = parts as [string, string];
    else [dst, opts] = parts as [string, string];
  } else {
    [src, dst, opts] = parts as [string, string, string];
  }
  const target = cleanTarget(dst, spec);
  let rw = true;
  let propagation = '';
  let copy = true;
  for (const o of opts ? opts.split(',') : []) {
    if (o === 'ro') rw = false;
    else if (o === 'rw') rw = true;
    else if (o === 'nocopy') copy = false;
    else if (PROPAGATIONS.includes(o)) propagation = o;
    else if (['z', 'Z', 'consistent', 'cached', 'delegated'].includes(o)) continue;
    else throw new InvalidArgumentError(`invalid mode: ${o}`);
  }
  if (src.startsWith('/')) {
    if (!copy) throw new InvalidArgumentError(`invalid mode: nocopy`);
    return {
      Type: 'bind', Source: path.posix.normalize(src), Destination: target, Mode: opts, RW: rw,
      Propagation: propagation || DEFAULT_PROPAGATION,
    };
  }
  if (src !== '' && !validVolumeName(src)) {
    throw new InvalidArgumentError(
      `create ${src}: "${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
  if (propagation) throw new InvalidArgumentError(`invalid mode: ${propagation}: propagation applies to bind mounts only`);
  return {
    Type: 'volume', Name: src, Source: '', Destination: target, Driver: 'local', Mode: opts || 'z', RW: rw,
    Propagation: '', Anonymous: src === '', CopyData: copy,
  };
}

/** One `--mount` (the Mounts API). */
export function parseApiMount(m: ApiMount): MountRecord {
  if (!m || typeof m !== 'object') throw new InvalidArgumentError('invalid mount config: expected an object');
  if (typeof m.Target !== 'string' || m.Target === '') throw new InvalidArgumentError('invalid mount config: Target must not be empty');
  const target = cleanTarget(m.Target, '');
  const ro = m.ReadOnly === true;
  switch (m.Type) {
    case 'bind': {
      if (!m.Source) throw new InvalidArgumentError('invalid mount config for type "bind": field Source must not be empty');
      if (!m.Source.startsWith('/')) throw new InvalidArgumentError(`invalid mount config for type "bind": invalid mount path: '${m.Source}' mount path must be absolute`);
      if (m.VolumeOptions) throw new InvalidArgumentError('invalid mount config for type "bind": field VolumeOptions must not be specified');
      if (m.TmpfsOptions) throw new InvalidArgumentError('invalid mount config for type "bind": field TmpfsOptions must not be specified');
      const prop = m.BindOptions?.Propagation ?? '';
      if (prop && !PROPAGATIONS.includes(prop)) throw new InvalidArgumentError(`invalid mount config for type "bind": invalid propagation mode: ${prop}`);
      return {
        Type: 'bind', Source: path.posix.normalize(m.Source), Destination: target, Mode: '', RW: !ro,
        Propagation: prop || DEFAULT_PROPAGATION, FromMountApi: true,
      };
    }
    case 'volume': {
      const name = m.Source ?? '';
      if (name !== '' && !validVolumeName(name)) {
        throw new InvalidArgumentError(`invalid mount config for type "volume": invalid volume name: "${name}"`);
      }
      if (m.BindOptions) throw new InvalidArgumentError('invalid mount config for type "volume": field BindOptions must not be specified');
      if (m.TmpfsOptions) throw new InvalidArgumentError('invalid mount config for type "volume": field TmpfsOptions must not be specified');
      const driver = m.VolumeOptions?.DriverConfig?.Name || 'local';
      return {
        Type: 'volume', Name: name, Source: '', Destination: target, Driver: driver, Mode: '', RW: !ro, Propagation: '',
        Anonymous: name === '', CopyData: m.VolumeOptions?.NoCopy !== true, FromMountApi: true,
        ...(m.VolumeOptions?.Subpath ? { Subpath: m.VolumeOptions.Subpath } : {}),
      };
    }
    case 'tmpfs': {
      if (m.Source) throw new InvalidArgumentError('invalid mount config for type "tmpfs": field Source must not be specified');
      if (m.BindOptions) throw new InvalidArgumentError('invalid mount config for type "tmpfs": field BindOptions must not be specified');
      const opts: string[] = [];
      const size = m.TmpfsOptions?.SizeBytes;
      if (size !== undefined) {
        if (typeof size !== 'number' || size < 0) throw new InvalidArgumentError('invalid mount config for type "tmpfs": invalid tmpfs size');
        if (size > 0) opts.push(`size=${size}`);
      }
      const mode = m.TmpfsOptions?.Mode;
      if (mode !== undefined && mode !== 0) opts.push(`mode=${(mode & 0o7777).toString(8)}`);
      for (const o of m.TmpfsOptions?.Options ?? []) opts.push(o.join('='));
      if (ro) opts.push('ro');
      return {
        Type: 'tmpfs', Source: '', Destination: target, Mode: '', RW: !ro, Propagation: '',
        TmpfsOptions: opts.join(','), FromMountApi: true,
      };
    }
    default:
      throw new InvalidArgumentError(`invalid mount config: mount type unknown: ${JSON.stringify(m.Type)}`);
  }
}

/** `--tmpfs /run:rw,size=64m`. */
export function parseTmpfs(dest: string, opts: string): MountRecord {
  const target = cleanTarget(dest, dest);
  const ro = opts.split(',').includes('ro');
  return { Type: 'tmpfs', Source: '', Destination: target, Mode: '', RW: !ro, Propagation: '', TmpfsOptions: opts };
}

/** Every mount of a container from its HostConfig and the image's VOLUMEs; duplicates are refused. */
export function containerMounts(hc: HostConfig, imageVolumes: string[]): MountRecord[] {
  const out: MountRecord[] = [];
  const seen = new Set<string>();
  const add = (m: MountRecord) => {
    if (seen.has(m.Destination)) throw new InvalidArgumentError(`Duplicate mount point: ${m.Destination}`);
    seen.add(m.Destination);
    out.push(m);
  };
  for (const b of hc.Binds ?? []) {
    if (typeof b !== 'string') throw new InvalidArgumentError('invalid volume specification: expected a string');
    add(parseBind(b));
  }
  for (const m of hc.Mounts ?? []) add(parseApiMount(m));
  for (const [dest, opts] of Object.entries(hc.Tmpfs ?? {})) add(parseTmpfs(dest, typeof opts === 'string' ? opts : ''));
  // The image's volumes that nothing else mounts become anonymous volumes.
  for (const v of imageVolumes) {
    const target = cleanTarget(v, v);
    if (seen.has(target)) continue;
    seen.add(target);
    out.push({ Type: 'volume', Name: '', Source: '', Destination: target, Driver: 'local', Mode: '', RW: true, Propagation: '', Anonymous: true, CopyData: true });
  }
  return out;
}

/** tmpfs options merged the way Docker merges them (later wins), with Docker's defaults first. */
export function tmpfsOptions(data: string | undefined): string[] {
  const merged = new Map<string, string>();
  const flags: string[] = [];
  for (const o of ['noexec', 'nosuid', 'nodev', DEFAULT_PROPAGATION, ...(data ? data.split(',') : [])]) {
    if (!o) continue;
    const i = o.indexOf('=');
    if (i > 0) {
      merged.set(o.slice(0, i), o);
      continue;
    }
    const opposite: Record<string, string> = { exec: 'noexec', noexec: 'exec', suid: 'nosuid', nosuid: 'suid', dev: 'nodev', nodev: 'dev', ro: 'rw', rw: 'ro' };
    const opp = opposite[o];
    if (opp) {
      const at = flags.indexOf(opp);
      if (at >= 0) flags.splice(at, 1);
    }
    if (!flags.includes(o)) flags.push(o);
  }
  return [...flags, ...merged.values()];
}
