/**
 * Registry errors. A registry answers failures with `{"errors":[{"code","message","detail"}]}` (the
 * distribution spec's error codes); Docker prints each as `<code in lower case, spaces for underscores>:
 * <message>` (`manifest unknown: manifest unknown`). Here they become @berth/errdefs classes, with the
 * parsed response kept as the `cause` (@berth/oci's RegistryError) so callers can look at the codes.
 */
import {
  type BerthError, InternalError, InvalidArgumentError, NotFoundError, NotImplementedError, PermissionDeniedError,
  ResourceExhaustedError, UnauthorizedError, UnavailableError, codeOf, errorFromCode,
} from '@berth/errdefs';
import { parseRegistryError, RegistryError } from '@berth/oci';

const statusText: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 416: 'Requested Range Not Satisfiable', 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export function httpStatusLine(status: number): string {
  return `${status} ${statusText[status] ?? ''}`.trim();
}

function classFor(status: number, code: string | undefined): new (message: string, options?: { cause?: unknown }) => BerthError {
  switch (code) {
    case 'UNAUTHORIZED': return UnauthorizedError;
    case 'DENIED': return PermissionDeniedError;
    case 'MANIFEST_UNKNOWN':
    case 'NAME_UNKNOWN':
    case 'BLOB_UNKNOWN':
    case 'BLOB_UPLOAD_UNKNOWN': return NotFoundError;
    case 'TOOMANYREQUESTS': return ResourceExhaustedError;
    case 'UNSUPPORTED': return NotImplementedError;
    case 'NAME_INVALID':
    case 'TAG_INVALID':
    case 'MANIFEST_INVALID':
    case 'MANIFEST_UNVERIFIED':
    case 'MANIFEST_BLOB_UNKNOWN':
    case 'DIGEST_INVALID':
    case 'SIZE_INVALID':
    case 'BLOB_UPLOAD_INVALID':
    case 'PAGINATION_NUMBER_INVALID':
    case 'RANGE_INVALID': return InvalidArgumentError;
  }
  if (status === 401) return UnauthorizedError;
  if (status === 403) return PermissionDeniedError;
  if (status === 404) return NotFoundError;
  if (status === 429) return ResourceExhaustedError;
  if (status === 405 || status === 501) return NotImplementedError;
  if (status >= 500) return UnavailableError;
  if (status >= 400) return InvalidArgumentError;
  return InternalError;
}

/**
 * Builds the error for a failed registry response. The message is Docker's text for the entries
 * (`unauthorized: authentication required`), or `received unexpected HTTP status: 500 Internal Server Error`
 * when the body had none; `context` (e.g. `Head "http://…/manifests/latest"`) is put in front when given.
 */
export function registryError(status: number, body: string, context?: string): BerthError {
  let cause = parseRegistryError(status, body);
  if (cause.errors.length === 0) {
    // Docker's client: a 401 or 429 without a parsable body still reads as the registry error it stands for.
    if (status === 401) cause = new RegistryError(status, [{ code: 'UNAUTHORIZED', message: 'authentication required' }]);
    else if (status === 429) cause = new RegistryError(status, [{ code: 'TOOMANYREQUESTS', message: 'too many requests' }]);
    else cause = new RegistryError(status, [], `received unexpected HTTP status: ${httpStatusLine(status)}`);
  }
  const Ctor = classFor(status, cause.errors[0]?.code);
  return new Ctor(context ? `${context}: ${cause.message}` : cause.message, { cause });
}

/** The registry's error code of an error made by `registryError` (walking causes), e.g. `MANIFEST_UNKNOWN`. */
export function registryErrorCode(err: unknown): string | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof RegistryError) return e.errors[0]?.code;
  }
  return undefined;
}

/** The HTTP status of the registry response behind an error, if there was one. */
export function registryErrorStatus(err: unknown): number | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof RegistryError) return e.status;
  }
  return undefined;
}

/** Network-level failures (refused, reset, timed out, DNS) become UnavailableError with the message kept. */
export function connectionError(err: unknown, context: string): BerthError {
  const msg = err instanceof Error ? err.message : String(err);
  return new UnavailableError(`${context}: ${msg}`, { cause: err });
}

/** Re-creates an error with a new message but the same class (and the original as cause). */
export function withMessage(err: unknown, message: string): BerthError {
  return errorFromCode(codeOf(err), message, err);
}

/** Whether a failure is worth retrying: connection failures, 5xx, 429, timeouts, truncated bodies. */
export function isRetryable(err: unknown): boolean {
  const status = registryErrorStatus(err);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408;
  const code = codeOf(err);
  if (code === 'unavailable' || code === 'deadline_exceeded') return true;
  const errno = (err as { code?: unknown } | null)?.code;
  return typeof errno === 'string' && ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET'].includes(errno);
}
