import type { BerthError } from './errors.ts';
import { codeOf, errorFromCode, type ErrorCode } from './errors.ts';

/** Docker Engine API statuses (moby's errdefs → HTTP mapping). */
const statusByCode: Record<ErrorCode, number> = {
  not_found: 404,
  already_exists: 409,
  invalid_argument: 400,
  failed_precondition: 409,
  conflict: 409,
  unavailable: 503,
  unauthorized: 401,
  permission_denied: 403,
  resource_exhausted: 503,
  not_implemented: 501,
  canceled: 499,
  deadline_exceeded: 504,
  not_modified: 304,
  internal: 500,
};

export function httpStatus(err: unknown): number {
  return statusByCode[codeOf(err)];
}

/** The body Docker sends with an error status. */
export function httpBody(err: unknown): { message: string } {
  return { message: err instanceof Error ? err.message : String(err) };
}

/** The reverse, for clients: an HTTP error status and Docker's `{message}` body back to a typed error. */
export function fromHttp(status: number, message: string): BerthError {
  const byStatus: Record<number, ErrorCode> = {
    304: 'not_modified',
    400: 'invalid_argument',
    401: 'unauthorized',
    403: 'permission_denied',
    404: 'not_found',
    409: 'conflict',
    501: 'not_implemented',
    503: 'unavailable',
    504: 'deadline_exceeded',
  };
  const code = byStatus[status] ?? 'internal';
  return errorFromCode(code, message);
}
