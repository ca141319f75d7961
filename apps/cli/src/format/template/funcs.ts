// Template functions: Go's builtins (and, or, not, len, index, slice, print, printf, println, eq, ne, lt,
// le, gt, ge, html, js, urlquery) and docker's (json, split, join, title, lower, upper, pad, truncate).
import { TemplateError } from './lexer.ts';
import { NIL_MAP, NIL_SLICE, NO_VALUE, formatNumber, isTrue, printValue } from './print.ts';

export type TemplateFunc = (...args: unknown[]) => unknown;

function str(v: unknown): string {
  return printValue(v);
}

function toList(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v === null || v === undefined || v === NIL_SLICE || v === NO_VALUE) return [];
  throw new TemplateError(`wrong type for value; expected []string; got ${typeof v}`);
}

function basicEq(a: unknown, b: unknown): boolean {
  if (a === NO_VALUE || a === NIL_MAP || a === NIL_SLICE) a = null;
  if (b === NO_VALUE || b === NIL_MAP || b === NIL_SLICE) b = null;
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (typeof a !== typeof b && a !== null && b !== null) {
    throw new TemplateError('incompatible types for comparison');
  }
  return a === b;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateError('incompatible types for comparison');
}

/** JSON as docker's `json` function writes it (no HTML escaping, no trailing newline). */
export function toJson(v: unknown): string {
  if (v === NO_VALUE || v === undefined || v === NIL_MAP || v === NIL_SLICE) return 'null';
  const s = JSON.stringify(v, (_k, x: unknown) => (x === NO_VALUE ? null : typeof x === 'bigint' ? rawJson(x.toString()) : x)) ?? 'null';
  // A formatting context marshals itself with json.Marshal, which escapes HTML characters.
  const marshaler = typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function';
  return marshaler ? escapeHtml(s) : s;
}

/** JSON.rawJSON (Node 21+): emits big integers digit for digit. */
const rawJson = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;

function escapeHtml(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go's fmt.Sprintf for the verbs templates use: %v %s %d %q %t %x %X %f %e %g %c %% with flags and width. */
export function sprintf(format: string, args: unknown[]): string {
  let ai = 0;
  return format.replace(/%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*))?([vsdqtxXfFeEgGcbo%T])/g, (m, flags: string, w: string | undefined, p: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    const width = w === '*' ? Number(args[ai++]) : w ? Number(w) : undefined;
    const prec = p === '*' ? Number(args[ai++]) : p !== undefined ? Number(p) : undefined;
    if (ai >= args.length) return `%!${verb}(MISSING)`;
    const a = args[ai++];
    let s: string;
    switch (verb) {
      case 'v':
        s = flags.includes('+') || flags.includes('#') ? printValue(a) : printValue(a);
        break;
      case 's':
        s = str(a);
        if (prec !== undefined) s = [...s].slice(0, prec).join('');
        break;
      case 'd':
        s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${typeof a}=${str(a)})`;
        if (flags.includes('+') && typeof a === 'number' && a >= 0) s = `+${s}`;
        break;
      case 'q':
        s = JSON.stringify(str(a));
        break;
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${typeof a}=${str(a)})`;
        break;
      case 'x':
        s = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(str(a)).toString('hex');
        break;
      case 'X':
        s = typeof a === 'number' ? Math.trunc(a).toString(16).toUpperCase() : Buffer.from(str(a)).toString('hex').toUpperCase();
        break;
      case 'o':
        s = typeof a === 'number' ? Math.trunc(a).toString(8) : str(a);
        break;
      case 'b':
        s = typeof a === 'number' ? Math.trunc(a).toString(2) : str(a);
        break;
      case 'f':
      case 'F':
        s = Number(a).toFixed(prec ?? 6);
        break;
      case 'e': case 'E': {
        const [mm, e] = Number(a).toExponential(prec ?? 6).split('e');
        const ev = Number(e);
        s = `${mm}e${ev < 0 ? '-' : '+'}${String(Math.abs(ev)).padStart(2, '0')}`;
        if (verb === 'E') s = s.toUpperCase();
        break;
      }
      case 'g':
      case 'G':
        s = prec !== undefined ? String(Number(Number(a).toPrecision(prec))) : formatNumber(Number(a));
        break;
      case 'c':
        s = String.fromCodePoint(Number(a));
        break;
      case 'T':
        s = typeof a === 'number' ? (Number.isInteger(a) ? 'int' : 'float64') : typeof a === 'string' ? 'string' : typeof a;
        break;
      default: return m;
    }
    if (width !== undefined && [...s].length < width) {
      const pad = width - [...s].length;
      if (flags.includes('-')) s += ' '.repeat(pad);
      else if (flags.includes('0') && 'dfFeEgGxX'.includes(verb)) s = s.startsWith('-') ? `-${'0'.repeat(pad)}${s.slice(1)}` : '0'.repeat(pad) + s;
      else s = ' '.repeat(pad) + s;
    }
    return s;
  }) + (ai < args.length ? `%!(EXTRA ${args.slice(ai).map((a) => `${typeof a === 'number' ? 'int' : 'string'}=${str(a)}`).join(', ')})` : '');
}

function sprint(args: unknown[]): string {
  // Go's Sprint: a space between operands when neither is a string.
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += str(a);
  });
  return out;
}

export const FUNCS: Record<string, TemplateFunc> = {
  // Go builtins (`and`/`or` short-circuit in the executor; these are the non-lazy fallbacks)
  and: (...a) => a.find((x) => !isTrue(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => isTrue(x)) ?? a[a.length - 1],
  not: (a) => !isTrue(a),
  len: (a) => {
    if (typeof a === 'string') return Buffer.byteLength(a);
    if (Array.isArray(a)) return a.length;
    if (a instanceof Map) return a.size;
    if (a === NIL_MAP || a === NIL_SLICE || a === null) return 0;
    if (typeof a === 'object' && a !== null) return Object.keys(a).length;
    throw new TemplateError(`error calling len: len of type ${typeof a}`);
  },
  index: (item, ...keys) => {
    let v: unknown = item;
    for (const k of keys) {
      if (Array.isArray(v) || typeof v === 'string') {
        const i = Number(k);
        const n = (v as ArrayLike<unknown>).length;
        if (!Number.isInteger(i) || i < 0 || i >= n) throw new TemplateError(`error calling index: index out of range: ${str(k)}`);
        v = typeof v === 'string' ? Buffer.from(v)[i] : v[i];
      } else if (v instanceof Map) {
        v = v.has(k) ? v.get(k) : NO_VALUE;
      } else if (v && typeof v === 'object') {
        v = Object.hasOwn(v, String(k)) ? (v as Record<string, unknown>)[String(k)] : NO_VALUE;
      } else if (v === null || v === NO_VALUE || v === NIL_MAP) {
        v = NO_VALUE;
      } else {
        throw new TemplateError(`error calling index: can't index item of type ${typeof v}`);
      }
    }
    return v;
  },
  slice: (item, ...idx) => {
    const n = idx.map(Number);
    if (typeof item === 'string') return item.slice(n[0] ?? 0, n[1]);
    return toList(item).slice(n[0] ?? 0, n[1]);
  },
  print: (...a) => sprint(a),
  printf: (f, ...a) => sprintf(String(f), a),
  println: (...a) => `${a.map(str).join(' ')}\n`,
  eq: (a, ...bs) => bs.some((b) => basicEq(a, b)),
  ne: (a, b) => !basicEq(a, b),
  lt: (a, b) => compare(a, b) < 0,
  le: (a, b) => compare(a, b) <= 0,
  gt: (a, b) => compare(a, b) > 0,
  ge: (a, b) => compare(a, b) >= 0,
  html: (...a) => sprint(a).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;'),
  js: (...a) => sprint(a).replace(/[\\'"<>&=]/g, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`),
  urlquery: (...a) => encodeURIComponent(sprint(a)).replace(/%20/g, '+'),
  // docker's additions (cli/templates)
  json: (v) => toJson(v),
  split: (s, sep) => str(s).split(str(sep)),
  join: (list, sep) => toList(list).map(str).join(str(sep)),
  title: (s) => str(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase()),
  lower: (s) => str(s).toLowerCase(),
  upper: (s) => str(s).toUpperCase(),
  pad: (s, prefix, suffix) => `${' '.repeat(Number(prefix))}${str(s)}${' '.repeat(Number(suffix))}`,
  truncate: (s, n) => {
    const chars = [...str(s)];
    return chars.length > Number(n) ? chars.slice(0, Number(n)).join('') : str(s);
  },
};
