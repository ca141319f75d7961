/**
 * Platforms (`linux/amd64`, `linux/arm/v7`, `windows(10.0.17763)/amd64`): parsing, normalization, formatting
 * and matching with containerd's semantics (`platforms.Parse`, `Normalize`, `Only`).
 */
import { InvalidPlatformError } from './errors.ts';

export interface Platform {
  'architecture': string;
  'os': string;
  'os.version'?: string;
  'os.features'?: string[];
  'variant'?: string;
  'features'?: string[];
}

const knownOS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd',
  'plan9', 'solaris', 'wasip1', 'windows', 'zos',
]);
const knownArch = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le',
  'mips64p32', 'mips64p32le', 'ppc', 'ppc64', 'ppc64le', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);
const componentRe = /^[A-Za-z0-9_.-]+$/;

function normalizeOS(os: string): string {
  const o = os.toLowerCase();
  return o === 'macos' ? 'darwin' : o;
}

/** containerd's normalizeArch: x86_64 → amd64, aarch64 → arm64, armhf → arm/v7, amd64/v1 → amd64 … */
export function normalizeArch(arch: string, variant = ''): { architecture: string; variant: string } {
  let a = arch.toLowerCase();
  let v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      a = '386';
      v = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      a = 'amd64';
      if (v === 'v1') v = '';
      break;
    case 'aarch64':
    case 'arm64':
      a = 'arm64';
      if (v === '8' || v === 'v8') v = '';
      break;
    case 'armhf':
      a = 'arm';
      v = 'v7';
      break;
    case 'armel':
      a = 'arm';
      v = 'v6';
      break;
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (v === '5' || v === '6' || v === '8') v = `v${v}`;
      break;
  }
  return { architecture: a, variant: v };
}

function make(os: string, arch: string, variant: string, osVersion?: string): Platform {
  const p: Platform = { architecture: arch, os };
  if (osVersion) p['os.version'] = osVersion;
  if (variant) p.variant = variant;
  return p;
}

/** The platform this process runs on, in OCI terms. */
export function defaultPlatform(): Platform {
  const map: Record<string, string> = {
    x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64',
    loong64: 'loong64', mips: 'mips', mipsel: 'mipsle',
  };
  const arch = map[process.arch] ?? process.arch;
  let variant = '';
  if (arch === 'arm') {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    variant = v ? `v${v}` : 'v7';
  }
  return normalizePlatform({ os: process.platform === 'win32' ? 'windows' : process.platform, architecture: arch, ...(variant ? { variant } : {}) });
}

/** Normalizes os/architecture/variant spellings (containerd's Normalize). */
export function normalizePlatform(p: Platform): Platform {
  const { architecture, variant } = normalizeArch(p.architecture, p.variant ?? '');
  const out = make(normalizeOS(p.os), architecture, variant, p['os.version']);
  if (p['os.features']) out['os.features'] = p['os.features'];
  if (p.features) out.features = p.features;
  return out;
}

/**
 * Parses a platform specifier: `linux`, `amd64`, `linux/amd64`, `linux/arm/v7`, `windows(10.0.17763)/amd64`.
 * A single component may be an OS (the default architecture is added) or an architecture (the default OS).
 */
export function parsePlatform(specifier: string): Platform {
  if (specifier.includes('*')) throw new InvalidPlatformError(`"${specifier}": wildcards not yet supported`);
  let osVersion: string | undefined;
  let spec = specifier;
  const m = /^([^/(]+)\(([^)]*)\)(\/.*)?$/.exec(specifier);
  if (m) {
    osVersion = m[2];
    spec = m[1]! + (m[3] ?? '');
  }
  const parts = spec.split('/');
  for (const part of parts) {
    if (!componentRe.test(part)) {
      throw new InvalidPlatformError(`"${part}" is an invalid component of "${specifier}": platform specifier component must match "${componentRe.source}"`);
    }
  }
  const def = defaultPlatform();
  switch (parts.length) {
    case 1: {
      const os = normalizeOS(parts[0]!);
      if (knownOS.has(os)) return make(os, def.architecture, def.architecture === 'arm' && def.variant !== 'v7' ? def.variant ?? '' : '', osVersion);
      const { architecture, variant } = normalizeArch(parts[0]!);
      if (knownArch.has(architecture)) return make(def.os, architecture, architecture === 'arm' && variant === 'v7' ? '' : variant, osVersion);
      throw new InvalidPlatformError(`"${specifier}": unknown operating system or architecture`);
    }
    case 2: {
      const { architecture, variant } = normalizeArch(parts[1]!);
      return make(normalizeOS(parts[0]!), architecture, architecture === 'arm' && variant === 'v7' ? '' : variant, osVersion);
    }
    case 3: {
      const { architecture, variant } = normalizeArch(parts[1]!, parts[2]!);
      return make(normalizeOS(parts[0]!), architecture, architecture === 'arm64' && variant === '' ? 'v8' : variant, osVersion);
    }
    default:
      throw new InvalidPlatformError(`"${specifier}": cannot parse platform specifier`);
  }
}

/** `linux/amd64`, `linux/arm/v7`, `windows(10.0.17763)/amd64`. */
export function formatPlatform(p: Platform): string {
  const os = p['os.version'] ? `${p.os}(${p['os.version']})` : p.os;
  return [os, p.architecture, p.variant].filter((x) => x).join('/');
}

function sameNormalized(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}

/** Windows images only run on hosts of the same build (major.minor.build); elsewhere os.version is ignored. */
function osVersionMatches(want: Platform, have: Platform): boolean {
  if (want.os !== 'windows' || !want['os.version'] || !have['os.version']) return true;
  const prefix = (v: string) => v.split('.').slice(0, 3).join('.');
  return prefix(want['os.version']) === prefix(have['os.version']);
}

/** Exact match after normalization (containerd's NewMatcher). */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  return sameNormalized(w, h) && osVersionMatches(w, h);
}

/** The platforms a host of platform `p` can run, best first (containerd's platformVector). */
export function compatiblePlatforms(p: Platform): Platform[] {
  const n = normalizePlatform(p);
  const out: Platform[] = [n];
  const variantNum = Number((n.variant ?? '').replace(/^v/, ''));
  const keep = (arch: string, variant: string): Platform => make(n.os, arch, variant, n['os.version']);
  switch (n.architecture) {
    case 'amd64':
      if (Number.isInteger(variantNum) && variantNum > 1) {
        for (let v = variantNum - 1; v >= 1; v--) out.push(normalizePlatform(keep('amd64', `v${v}`)));
      }
      out.push(keep('386', ''));
      break;
    case 'arm':
      if (Number.isInteger(variantNum) && variantNum > 5) for (let v = variantNum - 1; v >= 5; v--) out.push(keep('arm', `v${v}`));
      break;
    case 'arm64': {
      const v = n.variant || 'v8';
      out.push(...compatiblePlatforms(keep('arm', v)));
      break;
    }
  }
  return out;
}

/**
 * An ordered matcher for a host platform (containerd's `platforms.Only`): `match` accepts the platform and what
 * it can run; `rank` gives the preference (lower is better, -1 for no match), used to pick from an index.
 */
export interface PlatformMatcher {
  match(p: Platform): boolean;
  rank(p: Platform): number;
}

export function platformMatcher(host: Platform = defaultPlatform()): PlatformMatcher {
  const vector = compatiblePlatforms(host);
  const rank = (p: Platform): number => vector.findIndex((v) => platformMatches(v, p));
  return { match: (p) => rank(p) >= 0, rank };
}

/**
 * Picks the best entry of an index's manifests for a platform: entries without a platform or with
 * `unknown/unknown` (attestations) are skipped. Undefined when none fits.
 */
export function selectPlatformEntry<T extends { platform?: Platform }>(entries: T[], host: Platform = defaultPlatform()): T | undefined {
  const m = platformMatcher(host);
  let best: T | undefined;
  let bestRank = Infinity;
  for (const e of entries) {
    if (!e.platform || e.platform.os === 'unknown') continue;
    const r = m.rank(e.platform);
    if (r >= 0 && r < bestRank) {
      best = e;
      bestRank = r;
    }
  }
  return best;
}
