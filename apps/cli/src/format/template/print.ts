// How Go's fmt prints values with %v, for the JSON-shaped data berth templates see: numbers as integers when
// they are, lists as `[a b]`, maps as `map[k:v]` (sorted keys), structs as `{v1 v2}`, nil as `<nil>`, and a
// missing map key as `<no value>`.

/** On a formatting context: its Go type name; unknown fields are then errors (a Go struct), not `<no value>`. */
export const STRICT: unique symbol = Symbol.for('berth.format.strict') as never;

/** A missing field or key (Go prints `<no value>`). */
export const NO_VALUE: unique symbol = Symbol('no value');

/**
 * Field names that are Go maps or slices in docker's types, so that null prints as `map[]`/`[]` (a nil map
 * or slice) rather than `<nil>` (a nil pointer).
 */
const MAP_FIELDS = new Set([
  'Labels', 'ExposedPorts', 'Volumes', 'Options', 'DriverOpts', 'Containers', 'Ports', 'PortBindings', 'Sysctls', 'Tmpfs',
  'StorageOpt', 'Networks', 'Data', 'Annotations', 'Status', 'Config',
]);
const SLICE_FIELDS = new Set([
  'Cmd', 'Entrypoint', 'Env', 'Binds', 'Links', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'CapAdd', 'CapDrop', 'GroupAdd',
  'VolumesFrom', 'Mounts', 'SecurityOpt', 'Devices', 'Ulimits', 'RepoTags', 'RepoDigests', 'Layers', 'OnBuild', 'Shell', 'Aliases',
  'ExecIDs', 'Args', 'Warnings', 'Names', 'DeviceCgroupRules', 'MaskedPaths', 'ReadonlyPaths', 'DNSNames', 'Log',
]);

/** Hints a field's Go kind so a null prints as Go would. */
export function nullFor(field: string | undefined): unknown {
  if (field !== undefined && MAP_FIELDS.has(field)) return NIL_MAP;
  if (field !== undefined && SLICE_FIELDS.has(field)) return NIL_SLICE;
  return null;
}

export const NIL_MAP: unique symbol = Symbol('nil map');
export const NIL_SLICE: unique symbol = Symbol('nil slice');

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n) : goFloat(n);
  return goFloat(n);
}

/** Go's %v for float64: strconv 'g' with the shortest representation; exponent when exp < -4 || exp >= 21. */
function goFloat(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
  const exp = n === 0 ? 0 : Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 21) {
    const [m, e] = n.toExponential().split('e');
    const ev = Number(e);
    return `${m}e${ev < 0 ? '-' : '+'}${String(Math.abs(ev)).padStart(2, '0')}`;
  }
  return String(n);
}

/** Go's fmt `%v`. */
export function printValue(v: unknown, field?: string): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === NIL_MAP) return 'map[]';
  if (v === NIL_SLICE) return '[]';
  if (v === null) {
    const hinted = nullFor(field);
    return hinted === null ? '<nil>' : printValue(hinted);
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'function') return '<func>';
  if (Array.isArray(v)) return `[${v.map((x) => printValue(x)).join(' ')}]`;
  if (v instanceof Map) return `map[${[...v.keys()].sort().map((k) => `${k}:${printValue(v.get(k))}`).join(' ')}]`;
  if (typeof v === 'object') {
    const s = (v as { toString?: () => string }).toString;
    if (s !== Object.prototype.toString && typeof s === 'function') return s.call(v);
    const entries = Object.entries(v as Record<string, unknown>);
    if (field !== undefined && MAP_FIELDS.has(field)) {
      return `map[${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${k}:${printValue(x, k)}`).join(' ')}]`;
    }
    if (looksLikeMap(entries)) {
      return `map[${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${k}:${printValue(x, k)}`).join(' ')}]`;
    }
    return `{${entries.map(([k, x]) => printValue(x, k)).join(' ')}}`;
  }
  return String(v);
}

/** Struct fields in docker's types are capitalised Go names; anything else (paths, ports, ids) is a map key. */
function looksLikeMap(entries: Array<[string, unknown]>): boolean {
  if (entries.length === 0) return true;
  return entries.some(([k]) => !/^[A-Z][A-Za-z0-9]*$/.test(k));
}

/** Go template truth: false, 0, "", nil, empty slices and maps are false. */
export function isTrue(v: unknown): boolean {
  if (v === NO_VALUE || v === undefined || v === null || v === NIL_MAP || v === NIL_SLICE) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0 || typeof (v as { toString?: unknown }).toString === 'function';
  return true;
}
