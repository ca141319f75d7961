import type { Command } from '../framework/command.ts';
import { describeError, isFatal } from './describe.ts';

/**
 * Docker's pattern for commands over several objects (`stop a b c`): act on each in order, print its name
 * on success, print each error on stderr, and exit 1 if any failed. A daemon that cannot be reached ends
 * the command at once.
 */
export async function forEach(cmd: Command, names: string[], fn: (name: string) => Promise<void>, print = true): Promise<number> {
  let failed = false;
  for (const name of names) {
    try {
      await fn(name);
      if (print) cmd.log(name);
    } catch (err) {
      if (isFatal(err)) throw err;
      cmd.warn(describeError(err));
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
