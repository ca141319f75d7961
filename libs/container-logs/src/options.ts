// The json-file log driver's options as Docker spells them (`--log-opt max-size=10m --log-opt max-file=3`).
import { InvalidArgumentError } from '@berth/errdefs';

export interface JsonFileOptions {
  /** Rotate when the file has reached this many bytes; 0 = never. */
  maxSize: number;
  /** Files kept, the live one included (≥ 1). With 1 the file is truncated instead of rotated. */
  maxFile: number;
}

const UNITS: Record<string, number> = { '': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4, 'p': 1024 ** 5 };

/** Docker's units.RAMInBytes: `10m`, `512k`, `1.5g`, `100MiB`, `2048`; binary multiples. */
export function parseSize(text: string): number {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)(?:i?b)?$/i.exec(t);
  if (!m) throw new InvalidArgumentError(`invalid size ${JSON.stringify(text)}: expected a number with an optional unit (k, m, g)`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

/** Docker's json-file options that berth's writer accepts and leaves to the engine (attributes, tag). */
const ENGINE_KEYS = new Set(['labels', 'labels-regex', 'env', 'env-regex', 'tag']);

/** Reads `max-size` and `max-file`; other keys json-file knows are left to the engine, unknown ones rejected. */
export function parseJsonFileOptions(opts: Record<string, string | undefined>): JsonFileOptions {
  const out: JsonFileOptions = { maxSize: 0, maxFile: 1 };
  for (const [key, value] of Object.entries(opts)) {
    if (value === undefined) continue;
    switch (key) {
      case 'max-size':
        out.maxSize = parseSize(value);
        if (out.maxSize <= 0) throw new InvalidArgumentError(`invalid max-size ${JSON.stringify(value)}: must be a positive number`);
        break;
      case 'max-file': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`invalid max-file ${JSON.stringify(value)}: must be an integer ≥ 1`);
        out.maxFile = n;
        break;
      }
      case 'compress':
        if (value === 'true') throw new InvalidArgumentError('compress is not supported by berth\'s json-file log writer');
        break;
      default:
        if (ENGINE_KEYS.has(key)) break;
        throw new InvalidArgumentError(`unknown log opt '${key}' for json-file log driver`);
    }
  }
  return out;
}
