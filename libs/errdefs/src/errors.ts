/**
 * The error taxonomy shared by every berth component (containerd's errdefs idea): a handful of classes, each
 * with a stable `code`, created at the call site with a message that says what was being done and to what
 * ("pull 127.0.0.1:5000/library/busybox:latest: manifest unknown") and an optional `cause`.
 * Edges translate once: HTTP (./http.ts), gRPC (./grpc.ts), CLI exit codes (./exit.ts).
 */

export type ErrorCode =
  | 'not_found'
  | 'already_exists'
  | 'invalid_argument'
  | 'failed_precondition'
  | 'conflict'
  | 'unavailable'
  | 'unauthorized'
  | 'permission_denied'
  | 'resource_exhausted'
  | 'not_implemented'
  | 'canceled'
  | 'deadline_exceeded'
  | 'not_modified'
  | 'internal';

export abstract class BerthError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends BerthError {
  readonly code = 'not_found';
}
export class AlreadyExistsError extends BerthError {
  readonly code = 'already_exists';
}
export class InvalidArgumentError extends BerthError {
  readonly code = 'invalid_argument';
}
/** The object is in the wrong state for the operation ("cannot pause container abc: not running"). */
export class FailedPreconditionError extends BerthError {
  readonly code = 'failed_precondition';
}
/** The operation clashes with another object or operation (names in use, image in use). */
export class ConflictError extends BerthError {
  readonly code = 'conflict';
}
export class UnavailableError extends BerthError {
  readonly code = 'unavailable';
}
export class UnauthorizedError extends BerthError {
  readonly code = 'unauthorized';
}
export class PermissionDeniedError extends BerthError {
  readonly code = 'permission_denied';
}
export class ResourceExhaustedError extends BerthError {
  readonly code = 'resource_exhausted';
}
export class NotImplementedError extends BerthError {
  readonly code = 'not_implemented';
}
export class CanceledError extends BerthError {
  readonly code = 'canceled';
}
export class DeadlineExceededError extends BerthError {
  readonly code = 'deadline_exceeded';
}
/** Not a failure: the object is already in the requested state (Docker answers 304). */
export class NotModifiedError extends BerthError {
  readonly code = 'not_modified';
}
export class InternalError extends BerthError {
  readonly code = 'internal';
}

const byCode: Record<ErrorCode, new (message: string, options?: { cause?: unknown }) => BerthError> = {
  not_found: NotFoundError,
  already_exists: AlreadyExistsError,
  invalid_argument: InvalidArgumentError,
  failed_precondition: FailedPreconditionError,
  conflict: ConflictError,
  unavailable: UnavailableError,
  unauthorized: UnauthorizedError,
  permission_denied: PermissionDeniedError,
  resource_exhausted: ResourceExhaustedError,
  not_implemented: NotImplementedError,
  canceled: CanceledError,
  deadline_exceeded: DeadlineExceededError,
  not_modified: NotModifiedError,
  internal: InternalError,
};

/** Builds the error class for a code (used when errors cross a process boundary as `{code, message}`). */
export function errorFromCode(code: string, message: string, cause?: unknown): BerthError {
  const Ctor = byCode[code as ErrorCode] ?? InternalError;
  return new Ctor(message, { cause });
}

/** The code of any thrown value: BerthErrors carry theirs, Node system errors map by errno, the rest are internal. */
export function codeOf(err: unknown): ErrorCode {
  if (err instanceof BerthError) return err.code;
  const errno = (err as { code?: unknown } | null)?.code;
  switch (errno) {
    case 'ENOENT': return 'not_found';
    case 'EEXIST': return 'already_exists';
    case 'EINVAL': return 'invalid_argument';
    case 'EACCES':
    case 'EPERM': return 'permission_denied';
    case 'EBUSY': return 'conflict';
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE': return 'unavailable';
    case 'ENOSPC':
    case 'EMFILE': return 'resource_exhausted';
    case 'ETIMEDOUT': return 'deadline_exceeded';
    case 'ABORT_ERR': return 'canceled';
    // Errors of libraries that cannot import errdefs (@berth/oci) carry these same code strings.
    default: return typeof errno === 'string' && Object.hasOwn(byCode, errno) ? errno as ErrorCode : 'internal';
  }
}

export function isNotFound(err: unknown): boolean {
  return codeOf(err) === 'not_found';
}
export function isAlreadyExists(err: unknown): boolean {
  return codeOf(err) === 'already_exists';
}
export function isConflict(err: unknown): boolean {
  return codeOf(err) === 'conflict';
}
export function isInvalidArgument(err: unknown): boolean {
  return codeOf(err) === 'invalid_argument';
}
export function isFailedPrecondition(err: unknown): boolean {
  return codeOf(err) === 'failed_precondition';
}
export function isUnavailable(err: unknown): boolean {
  return codeOf(err) === 'unavailable';
}

/**
 * Adds context to an error while keeping its class: `wrap(err, 'pull busybox')` gives
 * "pull busybox: <original message>" with the same code and the original as `cause`.
 */
export function wrap(err: unknown, context: string): BerthError {
  const message = err instanceof Error ? err.message : String(err);
  return errorFromCode(codeOf(err), `${context}: ${message}`, err);
}
