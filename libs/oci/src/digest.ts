/**
 * Digests (`algorithm:encoded`), as go-digest defines them: sha256 and sha512 are supported; parsing and
 * verification give go-digest's error messages. Hashing is streaming (`createDigester`, `digestStream`).
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatchError, InvalidDigestError } from './errors.ts';

/** `sha256:<64 hex>` or `sha512:<128 hex>` (and, syntactically, other `alg:encoded` forms). */
export type Digest = `${string}:${string}`;

export type DigestAlgorithm = 'sha256' | 'sha512';

export const SHA256: DigestAlgorithm = 'sha256';
export const SHA512: DigestAlgorithm = 'sha512';

const encodedPattern: Record<DigestAlgorithm, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};
const encodedLength: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const algorithmPattern = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/;

export const ERR_DIGEST_INVALID_FORMAT = 'invalid checksum digest format';
export const ERR_DIGEST_INVALID_LENGTH = 'invalid checksum digest length';
export const ERR_DIGEST_UNSUPPORTED = 'unsupported digest algorithm';

export function isSupportedAlgorithm(alg: string): alg is DigestAlgorithm {
  return alg === 'sha256' || alg === 'sha512';
}

/** Validates a digest string, throwing InvalidDigestError with go-digest's message; returns it typed. */
export function parseDigest(s: string): Digest {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) throw new InvalidDigestError(ERR_DIGEST_INVALID_FORMAT);
  const alg = s.slice(0, i);
  const encoded = s.slice(i + 1);
  if (!algorithmPattern.test(alg)) throw new InvalidDigestError(ERR_DIGEST_INVALID_FORMAT);
  if (!isSupportedAlgorithm(alg)) throw new InvalidDigestError(ERR_DIGEST_UNSUPPORTED);
  if (encoded.length !== encodedLength[alg]) throw new InvalidDigestError(ERR_DIGEST_INVALID_LENGTH);
  if (!encodedPattern[alg].test(encoded)) throw new InvalidDigestError(ERR_DIGEST_INVALID_FORMAT);
  return s as Digest;
}

export function isDigest(s: unknown): s is Digest {
  if (typeof s !== 'string') return false;
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

export function digestAlgorithm(d: string): DigestAlgorithm {
  return parseDigest(d).slice(0, d.indexOf(':')) as DigestAlgorithm;
}

/** The hex part of a digest. */
export function digestEncoded(d: string): string {
  return parseDigest(d).slice(d.indexOf(':') + 1);
}

/** Builds a digest from an algorithm and a hex string, validating it. */
export function digestFromEncoded(alg: DigestAlgorithm, hex: string): Digest {
  return parseDigest(`${alg}:${hex}`);
}

/** The digest of some bytes (or a UTF-8 string). */
export function digestOf(data: Uint8Array | string, alg: DigestAlgorithm = 'sha256'): Digest {
  return `${alg}:${createHash(alg).update(data).digest('hex')}`;
}

/** An incremental hasher: feed bytes with `update`, read `digest()` at the end (once). */
export interface Digester {
  readonly algorithm: DigestAlgorithm;
  /** Bytes fed so far. */
  readonly size: number;
  update(chunk: Uint8Array): void;
  digest(): Digest;
}

export function createDigester(alg: DigestAlgorithm = 'sha256'): Digester {
  let hash: Hash | undefined = createHash(alg);
  let size = 0;
  let result: Digest | undefined;
  return {
    algorithm: alg,
    get size() {
      return size;
    },
    update(chunk) {
      if (!hash) throw new Error('digester already finished');
      hash.update(chunk);
      size += chunk.length;
    },
    digest() {
      if (result) return result;
      result = `${alg}:${hash!.digest('hex')}`;
      hash = undefined;
      return result;
    },
  };
}

/** Throws DigestMismatchError unless `data` has digest `expected` (and, if given, `size` bytes). */
export function verifyDigest(data: Uint8Array | string, expected: Digest, size?: number): void {
  const alg = digestAlgorithm(expected);
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size !== undefined && bytes !== size) {
    throw new DigestMismatchError(expected, digestOf(data, alg), `size mismatch for ${expected}: expected ${size} bytes, got ${bytes}`);
  }
  const actual = digestOf(data, alg);
  if (actual !== expected) throw new DigestMismatchError(expected, actual);
}

/**
 * A pass-through stream that hashes what flows through it. With `expected` (and optionally `size`) it fails
 * the stream at the end if the content does not match, so a consumer never sees a successful end of bad data.
 */
export class DigestStream extends Transform {
  readonly digester: Digester;
  private readonly expected: Digest | undefined;
  private readonly expectedSize: number | undefined;

  constructor(opts: { algorithm?: DigestAlgorithm; expected?: Digest; size?: number } = {}) {
    super();
    this.expected = opts.expected === undefined ? undefined : parseDigest(opts.expected);
    this.expectedSize = opts.size;
    this.digester = createDigester(opts.algorithm ?? (this.expected ? digestAlgorithm(this.expected) : 'sha256'));
  }

  get size(): number {
    return this.digester.size;
  }

  /** The digest; valid after the stream has ended. */
  digest(): Digest {
    return this.digester.digest();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.digester.update(chunk);
    if (this.expectedSize !== undefined && this.digester.size > this.expectedSize) {
      cb(new DigestMismatchError(this.expected ?? '', '', `size mismatch${this.expected ? ` for ${this.expected}` : ''}: more than ${this.expectedSize} bytes`));
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const actual = this.digester.digest();
    if (this.expectedSize !== undefined && this.digester.size !== this.expectedSize) {
      cb(new DigestMismatchError(this.expected ?? '', actual,
        `size mismatch${this.expected ? ` for ${this.expected}` : ''}: expected ${this.expectedSize} bytes, got ${this.digester.size}`));
      return;
    }
    if (this.expected && actual !== this.expected) {
      cb(new DigestMismatchError(this.expected, actual));
      return;
    }
    cb();
  }
}

export function digestStream(opts: { algorithm?: DigestAlgorithm; expected?: Digest; size?: number } = {}): DigestStream {
  return new DigestStream(opts);
}
