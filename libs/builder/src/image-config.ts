/**
 * Image configs as dockerd's classic builder writes them: the container-style `config` with all of Docker's
 * fields in Go's order (maps with sorted keys, nil slices as null), top-level keys sorted, `history` entries
 * with `empty_layer` for metadata-only steps, and Go's text forms where history quotes values (`CMD
 * ["sh" "-c" "x"]`, `VOLUME [/data]`, durations like `1m30s`). The image id is the sha256 of the exact bytes.
 */
import { createHash } from 'node:crypto';
import type { HistoryEntry, ImageConfig, ImageExecConfig } from '@berth/oci';
import type { HealthConfig } from './instructions.ts';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The container config an image carries, with the fields the builder changes. */
export interface RunConfig {
  User: string;
  ExposedPorts: Record<string, object> | null;
  Env: string[];
  Cmd: string[] | null;
  Healthcheck: HealthConfig | null;
  ArgsEscaped: boolean;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  StopSignal: string;
  StopTimeout: number | null;
  Shell: string[] | null;
}

/** A base image's config as a RunConfig (missing fields get Docker's zero values). */
export function runConfigOf(c: ImageExecConfig | undefined): RunConfig {
  const ic = c ?? {};
  const hc = ic.Healthcheck as HealthConfig | undefined;
  return {
    User: ic.User ?? '',
    ExposedPorts: ic.ExposedPorts && Object.keys(ic.ExposedPorts).length > 0 ? { ...ic.ExposedPorts } : null,
    Env: [...(ic.Env ?? [])],
    Cmd: ic.Cmd ? [...ic.Cmd] : null,
    Healthcheck: hc ? { ...hc, Test: [...(hc.Test ?? [])] } : null,
    ArgsEscaped: ic.ArgsEscaped === true,
    Image: typeof ic.Image === 'string' ? ic.Image : '',
    Volumes: ic.Volumes && Object.keys(ic.Volumes).length > 0 ? { ...ic.Volumes } : null,
    WorkingDir: ic.WorkingDir ?? '',
    Entrypoint: ic.Entrypoint ? [...ic.Entrypoint] : null,
    OnBuild: ic.OnBuild && ic.OnBuild.length > 0 ? [...ic.OnBuild] : null,
    Labels: ic.Labels && Object.keys(ic.Labels).length > 0 ? { ...ic.Labels } : null,
    StopSignal: ic.StopSignal ?? '',
    StopTimeout: typeof ic.StopTimeout === 'number' ? ic.StopTimeout : null,
    Shell: ic.Shell && ic.Shell.length > 0 ? [...ic.Shell] : null,
  };
}

export function cloneRunConfig(c: RunConfig): RunConfig {
  return {
    ...c,
    ExposedPorts: c.ExposedPorts ? { ...c.ExposedPorts } : null,
    Env: [...c.Env],
    Cmd: c.Cmd ? [...c.Cmd] : null,
    Healthcheck: c.Healthcheck ? { ...c.Healthcheck, Test: [...c.Healthcheck.Test] } : null,
    Volumes: c.Volumes ? { ...c.Volumes } : null,
    Entrypoint: c.Entrypoint ? [...c.Entrypoint] : null,
    OnBuild: c.OnBuild ? [...c.OnBuild] : null,
    Labels: c.Labels ? { ...c.Labels } : null,
    Shell: c.Shell ? [...c.Shell] : null,
  };
}

function sortedMap<T>(m: Record<string, T> | null): Record<string, T> | null {
  if (!m) return null;
  const out: Record<string, T> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k]!;
  return out;
}

function healthJson(h: HealthConfig): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (h.Test.length > 0) o.Test = h.Test;
  if (h.Interval) o.Interval = h.Interval;
  if (h.Timeout) o.Timeout = h.Timeout;
  if (h.StartPeriod) o.StartPeriod = h.StartPeriod;
  if (h.StartInterval) o.StartInterval = h.StartInterval;
  if (h.Retries) o.Retries = h.Retries;
  return o;
}

/** The `config` object in Go's field order. */
export function runConfigJson(c: RunConfig): ImageExecConfig {
  const o: Record<string, unknown> = {
    Hostname: '', Domainname: '', User: c.User, AttachStdin: false, AttachStdout: false, AttachStderr: false,
  };
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length > 0) o.ExposedPorts = sortedMap(c.ExposedPorts);
  o.Tty = false;
  o.OpenStdin = false;
  o.StdinOnce = false;
  o.Env = c.Env.length > 0 ? c.Env : null;
  o.Cmd = c.Cmd;
  if (c.Healthcheck) o.Healthcheck = healthJson(c.Healthcheck);
  if (c.ArgsEscaped) o.ArgsEscaped = true;
  o.Image = c.Image;
  o.Volumes = sortedMap(c.Volumes);
  o.WorkingDir = c.WorkingDir;
  o.Entrypoint = c.Entrypoint;
  o.OnBuild = c.OnBuild;
  o.Labels = sortedMap(c.Labels);
  if (c.StopSignal) o.StopSignal = c.StopSignal;
  if (c.StopTimeout !== null) o.StopTimeout = c.StopTimeout;
  if (c.Shell && c.Shell.length > 0) o.Shell = c.Shell;
  return o as ImageExecConfig;
}

/** RFC 3339 with nanosecond precision as Go prints it (trailing zeros of the fraction dropped). */
export function goTime(d: Date): string {
  return d.toISOString().replace(/\.(\d*?)0*Z$/, (_m, f: string) => (f ? `.${f}Z` : 'Z'));
}

export function historyEntry(e: { created: string; createdBy: string; author?: string; comment?: string; empty: boolean }): HistoryEntry {
  const h: HistoryEntry = { created: e.created };
  if (e.author) h.author = e.author;
  h.created_by = e.createdBy;
  if (e.comment) h.comment = e.comment;
  if (e.empty) h.empty_layer = true;
  return h;
}

/** The serialized config (top-level keys sorted, as dockerd writes them) and its id. */
export function serializeConfig(c: ImageConfig): { bytes: Buffer; id: string } {
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(c).sort()) {
    const v = (c as Record<string, unknown>)[k];
    if (v !== undefined) o[k] = v;
  }
  const bytes = Buffer.from(JSON.stringify(o));
  return { bytes, id: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

/** Go's `%q` of a []string: `["a" "b c"]`. */
export function goQuoteList(list: readonly string[] | null): string {
  return `[${(list ?? []).map(goQuote).join(' ')}]`;
}

/** Go's strconv.Quote for printable text (JSON escaping is the same for everything but a few controls). */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u0007/g, '\\a').replace(/\\u000b/g, '\\v');
}

/** Go's `%v` of a []string: `[a b]`. */
export function goList(list: readonly string[] | null): string {
  return `[${(list ?? []).join(' ')}]`;
}

/** Go's time.Duration.String for nanoseconds. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let n = Math.abs(ns);
  let out: string;
  if (n < 1e9) {
    if (n < 1e3) out = `${n}ns`;
    else if (n < 1e6) out = `${trimFrac(n / 1e3)}µs`;
    else out = `${trimFrac(n / 1e6)}ms`;
  } else {
    const h = Math.floor(n / 3600e9);
    n -= h * 3600e9;
    const m = Math.floor(n / 60e9);
    n -= m * 60e9;
    const s = `${trimFrac(n / 1e9)}s`;
    out = h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
  }
  return neg ? `-${out}` : out;
}

function trimFrac(v: number): string {
  return v.toFixed(9).replace(/\.?0+$/, '');
}

/** Go's strconv.QuoteRune for a small number (`%q` of an int). */
function goQuoteRune(n: number): string {
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 39: '\\\'', 92: '\\\\' };
  if (named[n]) return `'${named[n]}'`;
  if (n >= 32 && n < 127) return `'${String.fromCharCode(n)}'`;
  if (n < 0x80) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  return `'${String.fromCodePoint(n)}'`;
}

/** `HEALTHCHECK %q` of the config, as dockerd's classic builder writes it in history. */
export function healthText(h: HealthConfig): string {
  const d = (ns: number | undefined) => `"${goDuration(ns ?? 0)}"`;
  return `&{${goQuoteList(h.Test)} ${d(h.Interval)} ${d(h.Timeout)} ${d(h.StartPeriod)} ${goQuoteRune(h.Retries ?? 0)}}`;
}
