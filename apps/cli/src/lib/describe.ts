import { daemonStatus, isConnectError } from '@berth/docker-api';

/** How an error from the client reads on the terminal (docker's wording, berth's names). */
export function describeError(err: unknown): string {
  if (isConnectError(err)) {
    if (err.errno === 'EACCES' || err.errno === 'EPERM') {
      return `permission denied while trying to connect to the berth daemon socket at ${err.host}: ${(err.cause as Error)?.message ?? err.message}`;
    }
    // nothing there: docker's wording; anything else (TLS, a reset, a timeout) says what happened
    if (['ECONNREFUSED', 'ENOENT', 'ENOTSOCK', 'EHOSTUNREACH', 'ENETUNREACH', undefined].includes(err.errno)) {
      return `Cannot connect to the berth daemon at ${err.host}. Is berthd running?`;
    }
    return `error during connect: ${err.host}: ${(err.cause as Error)?.message ?? err.message}`;
  }
  if (daemonStatus(err) !== undefined) return `Error response from daemon: ${(err as Error).message}`;
  return err instanceof Error ? err.message : String(err);
}

/** True for daemon errors that are "not found" (404). */
export function isNotFound(err: unknown): boolean {
  return daemonStatus(err) === 404;
}

/** Connection failures end every command at once, whatever it was doing. */
export function isFatal(err: unknown): boolean {
  return isConnectError(err);
}
