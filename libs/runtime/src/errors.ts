// One function turns a native failure (or a failure the container's init reported over the sync socket)
// into an @berth/errdefs error: the class follows the errno, the message says what was being done and to what.
import { errorFromCode, codeOf, type BerthError } from '@berth/errdefs';

export interface SystemErrorInfo {
  /** errno name, e.g. 'EPERM' */
  code: string;
  errno: number;
  /** what was being done, e.g. 'mount proc on /proc' */
  what: string;
}

export function isNativeError(err: unknown): err is Error & SystemErrorInfo {
  return err instanceof Error && typeof (err as Partial<SystemErrorInfo>).errno === 'number'
    && typeof (err as Partial<SystemErrorInfo>).what === 'string';
}

/** Wraps an error with context, keeping its class: `create container abc: mount proc on /proc: EPERM (…)`. */
export function runtimeError(err: unknown, context: string): BerthError {
  const message = err instanceof Error ? err.message : String(err);
  const wrapped = errorFromCode(codeOf(err), `${context}: ${message}`, err);
  if (isNativeError(err)) Object.assign(wrapped, { errno: err.code });
  return wrapped;
}

/** An error reported by the container's init: `{errno, what}` → "what: EPERM (Operation not permitted)". */
export function initError(errno: number, what: string, plain: boolean): Error & SystemErrorInfo {
  const name = errnoName(errno);
  const err = new Error(plain ? what : `${what}: ${name} (${process.getBuiltinModule('node:util').getSystemErrorMessage(-errno)})`) as Error & SystemErrorInfo;
  return Object.assign(err, { code: name, errno, what });
}

export function errnoName(errno: number): string {
  try {
    return process.getBuiltinModule('node:util').getSystemErrorName(-errno);
  } catch {
    return `E${errno}`;
  }
}
