/**
 * `RUN --mount=…` options (BuildKit's syntax): `type=bind|cache|tmpfs` with `target`, `source`, `from`,
 * `readonly`/`rw`, `id`, `sharing`, `mode`, `uid`, `gid`, `size`. Bind mounts are read-only unless `rw` (and
 * then writes are discarded); cache mounts persist between builds, keyed by `id` (default: the target).
 * `secret` and `ssh` need a client session, which the classic API does not have: they are refused.
 */
import { InvalidArgumentError } from '@berth/errdefs';
import { withSuggestion } from './suggest.ts';

export type RunMountType = 'bind' | 'cache' | 'tmpfs';

export interface RunMount {
  type: RunMountType;
  target: string;
  source: string;
  from: string;
  readOnly: boolean;
  id: string;
  sharing: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  /** tmpfs size in bytes (0: the kernel's default). */
  size: number;
}

const TYPES = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING = ['shared', 'private', 'locked'];
const KEYS = ['type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid', 'src', 'dst',
  'destination', 'ro', 'rw', 'readwrite', 'env'];

/** Splits a CSV record (fields may be double-quoted, `""` is a quote). */
export function csvFields(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quoted) {
      if (ch === '"') {
        if (s[i + 1] === '"') {
          cur += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        cur += ch;
      }
    } else if (ch === '"' && cur === '') {
      quoted = true;
    } else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (quoted) throw new InvalidArgumentError(`failed to parse csv mounts: extraneous or missing " in quoted-field`);
  out.push(cur);
  return out;
}

function parseBool(key: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new InvalidArgumentError(`invalid value for ${key}: ${value}`);
}

function parseUint(value: string, radix: number, what: string): number {
  const re = radix === 8 ? /^[0-7]+$/ : /^\d+$/;
  const n = re.test(value) ? Number.parseInt(value, radix) : NaN;
  if (!Number.isFinite(n) || n > 0xffffffff) throw new InvalidArgumentError(`invalid value ${value} for ${what}`);
  return n;
}

function ramInBytes(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`invalid value for size: ${value}`);
  const mult: Record<string, number> = { '': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4, 'p': 1024 ** 5 };
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

/** Parses one `--mount` value; `expand` substitutes build args and environment in values. */
export function parseRunMount(value: string, expand: (s: string) => string): RunMount {
  const m: RunMount = { type: 'bind', target: '', source: '', from: '', readOnly: true, id: '', sharing: 'shared', size: 0 };
  let roAuto = true;
  let sharingSet = false;
  for (const field of csvFields(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') {
        m.readOnly = true;
        roAuto = false;
        continue;
      }
      if (key === 'readwrite' || key === 'rw') {
        m.readOnly = false;
        roAuto = false;
        continue;
      }
      if (key === 'required') throw new InvalidArgumentError(`unexpected key '${key}' for mount type '${m.type}'`);
      throw new InvalidArgumentError(`invalid field '${field}' must be a key=value pair`);
    }
    const v = expand(field.slice(eq + 1));
    switch (key) {
      case 'type': {
        const t = v.toLowerCase();
        if (!TYPES.includes(t)) throw new InvalidArgumentError(withSuggestion(`unsupported mount type ${JSON.stringify(v)}`, v, TYPES, true));
        if (t === 'secret' || t === 'ssh') {
          throw new InvalidArgumentError(`the --mount=type=${t} option needs a build session, which the classic build API does not provide`);
        }
        m.type = t as RunMountType;
        break;
      }
      case 'from':
        m.from = v;
        break;
      case 'source':
      case 'src':
        m.source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = v;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = parseBool(key, v);
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readOnly = !parseBool(key, v);
        roAuto = false;
        break;
      case 'size':
        if (m.type !== 'tmpfs') throw new InvalidArgumentError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.size = ramInBytes(v);
        break;
      case 'id':
        m.id = v;
        break;
      case 'sharing': {
        const s = v.toLowerCase();
        if (!SHARING.includes(s)) throw new InvalidArgumentError(withSuggestion(`unsupported sharing value ${JSON.stringify(v)}`, v, SHARING, true));
        m.sharing = s as RunMount['sharing'];
        sharingSet = true;
        break;
      }
      case 'mode':
        m.mode = parseUint(v, 8, 'mode');
        break;
      case 'uid':
        m.uid = parseUint(v, 10, 'uid');
        break;
      case 'gid':
        m.gid = parseUint(v, 10, 'gid');
        break;
      case 'required':
        throw new InvalidArgumentError(`unexpected key '${key}' for mount type '${m.type}'`);
      default:
        throw new InvalidArgumentError(withSuggestion(`unexpected key '${key}' in '${field}'`, key, KEYS, true));
    }
  }
  if (m.type !== 'cache') {
    if (m.mode !== undefined) throw new InvalidArgumentError(`mode not allowed for "${m.type}" type mounts`);
    if (m.uid !== undefined) throw new InvalidArgumentError(`uid not allowed for "${m.type}" type mounts`);
    if (m.gid !== undefined) throw new InvalidArgumentError(`gid not allowed for "${m.type}" type mounts`);
  }
  if (roAuto) m.readOnly = m.type === 'bind';
  if (sharingSet && m.type !== 'cache') throw new InvalidArgumentError(`invalid cache sharing set for ${m.type} mount`);
  if (m.target === '') throw new InvalidArgumentError('mount destination not set');
  return m;
}
