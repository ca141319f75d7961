// docker/go-units: human sizes ("4.26MB", "1.5GiB"), durations ("About a minute", "3 hours"), and the size
// parser behind --memory/--shm-size ("512m" = 512 MiB).

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's `%.4g`, as go-units formats sizes. */
function fmtG(n: number, precision: number): string {
  let s = n.toPrecision(precision);
  if (s.includes('e')) {
    const [m, e] = s.split('e');
    const mant = m!.includes('.') ? m!.replace(/0+$/, '').replace(/\.$/, '') : m!;
    const exp = Number(e);
    return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

function custom(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${fmtG(size, precision)}${units[i]}`;
}

/** go-units HumanSizeWithPrecision(size, 4): decimal units ("4.26MB" for 4,261,000 with precision 3). */
export function humanSize(size: number, precision = 4): string {
  return custom(size, 1000, DECIMAL, precision);
}

/** go-units BytesSize: binary units ("1.953GiB"). */
export function bytesSize(size: number): string {
  return custom(size, 1024, BINARY, 4);
}

/** go-units HumanDuration, for "Up 3 minutes" and "5 seconds ago". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** "3 minutes ago" from a time in ms since the epoch. */
export function timeAgo(whenMs: number, now = Date.now()): string {
  return `${humanDuration(now - whenMs)} ago`;
}

const RAM_UNITS: Record<string, number> = { '': 1, 'b': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4, 'p': 1024 ** 5 };

/** go-units RAMInBytes: "512m", "1g", "1024" (binary multiples, optional trailing b/ib). */
export function ramInBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new Error(`invalid size: '${s}'`);
  return Math.floor(Number(m[1]) * RAM_UNITS[m[2]!.toLowerCase()]!);
}

/** go-units FromHumanSize: decimal multiples ("10GB" = 10^10). */
export function fromHumanSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new Error(`invalid size: '${s}'`);
  const mult: Record<string, number> = { '': 1, 'k': 1e3, 'm': 1e6, 'g': 1e9, 't': 1e12, 'p': 1e15 };
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

/** Go's time.ParseDuration ("1m30s", "500ms", "2h"), in milliseconds. */
export function parseDuration(s: string): number {
  if (s === '0') return 0;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let sign = 1;
  let rest = s;
  if (rest.startsWith('-')) {
    sign = -1;
    rest = rest.slice(1);
  } else if (rest.startsWith('+')) {
    rest = rest.slice(1);
  }
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rest)) !== null) {
    total += Number(m[1]) * unit[m[2]!]!;
    matched = re.lastIndex;
  }
  if (rest === '' || matched !== rest.length) throw new Error(`time: invalid duration "${s}"`);
  return sign * total;
}
