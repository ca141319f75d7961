// Errors a command raises for the CLI to print. Exit codes follow docker's CLI: flag errors 125, argument-count
// errors 1, a container's own status passed through for `run`/`start -a`/`exec`.

/** Ends the command with a message on stderr and an exit code (oclif's `this.error(msg, {exit})`). */
export class CliError extends Error {
  readonly exit: number;
  /** Print the command's usage line after the message (docker's usage errors). */
  readonly showUsage: boolean;
  constructor(message: string, exit = 1, showUsage = false) {
    super(message);
    this.name = 'CliError';
    this.exit = exit;
    this.showUsage = showUsage;
  }
}

/** A bad flag or flag value: docker prints it with the usage line and exits 125. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 125, true);
    this.name = 'UsageError';
  }
}

/** Exit quietly with a status (the message, if any, was already printed). */
export class ExitStatus extends Error {
  readonly exit: number;
  constructor(exit: number) {
    super(`exit status ${exit}`);
    this.exit = exit;
  }
}
