/**
 * libs/oci imports nothing, so it carries its own small error classes. Each has a `code` from the same
 * vocabulary as @berth/errdefs (`invalid_argument`, `not_found`, …) so an edge that translates errors can map
 * them without knowing this library. Messages are Docker's where Docker has one.
 */
export type OciErrorCode =
  | 'invalid_argument'
  | 'failed_precondition'
  | 'not_found'
  | 'unauthorized'
  | 'permission_denied'
  | 'resource_exhausted'
  | 'not_implemented'
  | 'unavailable'
  | 'internal';

export class OciError extends Error {
  readonly code: OciErrorCode;

  constructor(code: OciErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A digest string that does not parse (go-digest's messages). */
export class InvalidDigestError extends OciError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_argument', message, options);
  }
}

/** Content whose digest or size is not the one expected. */
export class DigestMismatchError extends OciError {
  readonly expected: string;
  readonly actual: string;

  constructor(expected: string, actual: string, message?: string) {
    super('failed_precondition', message ?? `digest mismatch: expected ${expected}, got ${actual}`);
    this.expected = expected;
    this.actual = actual;
  }
}

/** An image reference that does not parse (distribution/reference's messages, as the Docker daemon prints them). */
export class InvalidReferenceError extends OciError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_argument', message, options);
  }
}

/** A platform specifier that does not parse (containerd's message). */
export class InvalidPlatformError extends OciError {
  constructor(message: string) {
    super('invalid_argument', message);
  }
}

/** A manifest, index, config, descriptor or layout that does not follow its schema. */
export class ValidationError extends OciError {
  constructor(message: string) {
    super('invalid_argument', message);
  }
}
