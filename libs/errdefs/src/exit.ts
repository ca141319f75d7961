import { codeOf } from './errors.ts';

/**
 * Exit codes for command-line tools. Docker's CLI convention: 125 when the daemon or the CLI itself failed,
 * 126 when the container command cannot be invoked, 127 when it cannot be found; anything else is the
 * container's own exit code. Errors that are not about a container command exit 1, as docker does.
 */
export const ExitCode = {
  Failure: 1,
  DaemonError: 125,
  CommandNotInvokable: 126,
  CommandNotFound: 127,
} as const;

/** Exit code for an error raised by a plain CLI command (not `run`): usage errors and daemon errors alike exit 1. */
export function exitCodeOf(err: unknown): number {
  return codeOf(err) === 'canceled' ? 130 : ExitCode.Failure;
}
