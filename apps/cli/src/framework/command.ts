// The base class every berth command extends, in oclif's shape: one class per file, `static flags`,
// `static args`, `await this.parse(Cmd)`, `this.error(msg, {exit})`. The command id is the file's path
// under src/commands (`container/ls.ts` → `container ls`); commands.ts maps ids to lazy loaders.
import type { Context } from '../context.ts';
import { CliError, ExitStatus, UsageError } from './errors.ts';
import type { ArgDef, FlagMap, FlagValues } from './flags.ts';
import { parseArgv } from './parser.ts';

export interface Parsed<F extends FlagMap> {
  flags: FlagValues<F>;
  /** Every positional argument, in order. */
  args: string[];
  /** Flags the user set explicitly (long names). */
  changed: Set<string>;
}

export interface CommandClass {
  new (argv: string[], ctx: Context, path: string): Command;
  id: string;
  summary: string;
  description?: string;
  usage: string;
  examples: string[];
  flags: FlagMap;
  args: ArgDef[];
  interspersed: boolean;
  aliases: string[];
}

export abstract class Command {
  /** `container ls`; set from the command table. */
  static id = '';
  static summary = '';
  static description?: string;
  /** What follows the command path in the usage line: `[OPTIONS] CONTAINER [CONTAINER...]`. */
  static usage = '[OPTIONS]';
  static examples: string[] = [];
  static flags: FlagMap = {};
  static args: ArgDef[] = [];
  /** false: flags stop at the first positional (docker run/exec: the rest is the container's command line). */
  static interspersed = true;
  /** Other spellings, as full command paths, for the help's "Aliases:" line. */
  static aliases: string[] = [];

  readonly argv: string[];
  readonly ctx: Context;
  /** How the user invoked it: `berth ps` or `berth container ls`. */
  readonly path: string;

  constructor(argv: string[], ctx: Context, path: string) {
    this.argv = argv;
    this.ctx = ctx;
    this.path = path;
  }

  abstract run(): Promise<number | void>;

  async parse<F extends FlagMap>(cmd: { flags: F; args: ArgDef[]; interspersed: boolean }): Promise<Parsed<F>> {
    const r = parseArgv(this.argv, cmd.flags, cmd.interspersed);
    checkArgCount(this.path, r.positionals.length, cmd.args);
    return { flags: r.flags as FlagValues<F>, args: r.positionals, changed: r.changed };
  }

  /** Ends the command: prints `message` to stderr and exits with `exit` (default 1). */
  error(message: string, opts: { exit?: number } = {}): never {
    throw new CliError(message, opts.exit ?? 1);
  }

  /** A flag-value problem: docker's usage error (exit 125 with the usage line). */
  usageError(message: string): never {
    throw new UsageError(message);
  }

  exit(code: number): never {
    throw new ExitStatus(code);
  }

  log(text = ''): void {
    this.ctx.out(`${text}\n`);
  }

  warn(text: string): void {
    this.ctx.err(`${text}\n`);
  }
}

function plural(n: number): string {
  return n === 1 ? 'argument' : 'arguments';
}

/** Docker's positional-argument checks (cli/required.go), with its messages; these exit 1. */
function checkArgCount(path: string, n: number, defs: ArgDef[]): void {
  const min = defs.filter((a) => a.required).length;
  const max = defs.some((a) => a.multiple) ? Infinity : defs.length;
  const bin = path.split(' ')[0];
  const tail = (verb: string) => `\n\nUsage:  ${USAGE_PLACEHOLDER}\n\n${verb} '${path} --help' for more information`;
  if (n >= min && n <= max) return;
  if (max === 0) throw new CliError(`${bin}: '${path}' accepts no arguments${tail('Run')}`, 1);
  if (min === max) throw new CliError(`${bin}: '${path}' requires ${min} ${plural(min)}${tail('Run')}`, 1);
  if (max === Infinity) throw new CliError(`${bin}: '${path}' requires at least ${min} ${plural(min)}${tail('See')}`, 1);
  if (min === 0) throw new CliError(`${bin}: '${path}' requires at most ${max} ${plural(max)}${tail('Run')}`, 1);
  throw new CliError(`${bin}: '${path}' requires at least ${min} and at most ${max} ${plural(max)}${tail('Run')}`, 1);
}

/** Replaced by the runner with the command's usage line (the parser does not know it). */
export const USAGE_PLACEHOLDER = '\u0000USAGE\u0000';
