// runc's flag syntax (urfave/cli on Go's flag package): `--name value`, `--name=value`, `-name`, short aliases,
// booleans without a value, repeatable flags, and parsing stops at the first positional argument (so
// `exec ID sh -c …` keeps `-c` for the command).
import { InvalidArgumentError } from '@berth/errdefs';

export interface FlagSpec {
  name: string;
  alias?: string;
  type: 'string' | 'bool' | 'list';
}

export interface Parsed {
  flags: Map<string, string | boolean | string[]>;
  args: string[];
}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): Parsed {
  const flags = new Map<string, string | boolean | string[]>();
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    if (s.alias) byName.set(s.alias, s);
  }
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = byName.get(name);
    if (!spec) throw new InvalidArgumentError(`flag provided but not defined: -${name}`);
    if (spec.type === 'bool') {
      const v = eq >= 0 ? body.slice(eq + 1) : 'true';
      flags.set(spec.name, v === 'true' || v === '1');
      continue;
    }
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new InvalidArgumentError(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    if (spec.type === 'list') flags.set(spec.name, [...((flags.get(spec.name) as string[] | undefined) ?? []), value]);
    else flags.set(spec.name, value);
  }
  return { flags, args: argv.slice(i) };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function bool(p: Parsed, name: string): boolean {
  return p.flags.get(name) === true;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.flags.get(name);
  return Array.isArray(v) ? v : [];
}

/** Exactly `n` positional arguments (runc's checkArgs), else a usage error. */
export function need(p: Parsed, n: number, command: string, usage: string): string[] {
  if (p.args.length < n) throw new InvalidArgumentError(`"${command}" requires a minimum of ${n} argument${n > 1 ? 's' : ''}\nusage: berth-runc ${command} ${usage}`);
  return p.args;
}
