import { CliError } from '../framework/errors.ts';
import { describeError, isFatal } from './describe.ts';
import { OptionError } from './run-options.ts';
import { StreamError } from './progress.ts';

/**
 * How `run`/`create` report failures (docker's): `docker: <error>` with a pointer to --help, exit 125; for
 * `run`, a container command that cannot be found exits 127 and one that cannot be invoked 126.
 */
export function runError(err: unknown, path: string, isRun: boolean, fromStart = false): CliError {
  if (err instanceof CliError && !(err instanceof OptionError)) return err;
  const bin = path.split(' ')[0];
  const msg = describeError(err);
  if (isFatal(err)) return new CliError(msg, 1);
  if (!isRun && !(err instanceof OptionError) && !(err instanceof StreamError)) return new CliError(msg, 1);
  let code = 125;
  if (isRun && fromStart) {
    if (/executable file not found|no such file or directory|system cannot find the file specified/.test(msg)) code = 127;
    else if (/permission denied|is a directory/.test(msg)) code = 126;
  }
  return new CliError(`${bin}: ${msg}\n\nRun '${path} --help' for more information`, code);
}
