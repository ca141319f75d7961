// pflag-compatible parsing (docker's CLI uses cobra + spf13/pflag): long flags with `=` or a separate
// value, booleans with an optional `=value`, combined shorthands (`-itd`, `-p80`, `-e=X`), `--` and, for
// commands like `run` and `exec`, no flags after the first positional ("interspersed" off).
import type { FlagDef, FlagMap } from './flags.ts';
import { UsageError } from './errors.ts';

export interface ParseResult {
  flags: Record<string, unknown>;
  /** Flags given on the command line (by their long name). */
  changed: Set<string>;
  positionals: string[];
}

export function parseArgv(argv: readonly string[], defs: FlagMap, interspersed = true): ParseResult {
  const byName = new Map<string, [string, FlagDef]>();
  const byChar = new Map<string, [string, FlagDef]>();
  for (const [name, def] of Object.entries(defs)) {
    byName.set(name, [name, def]);
    for (const a of def.aliases ?? []) byName.set(a, [name, def]);
    if (def.char) byChar.set(def.char, [name, def]);
  }
  const flags: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === 'boolean') flags[name] = def.default ?? false;
    else if (def.type === 'strings') flags[name] = [...(def.default ?? [])];
    else if (def.default !== undefined) flags[name] = def.default;
  }
  const changed = new Set<string>();
  const positionals: string[] = [];

  const set = (name: string, def: FlagDef, raw: string, shown: string) => {
    if (!changed.has(name) && def.type === 'strings') flags[name] = [];
    changed.add(name);
    flags[name] = convert(def, raw, shown, flags[name]);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const key = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const hit = byName.get(key);
      if (!hit) {
        if (key === 'help') throw new HelpRequested();
        throw new UsageError(`unknown flag: --${key}`);
      }
      const [name, def] = hit;
      const shown = `${def.char ? `-${def.char}, ` : ''}--${name}`;
      if (def.type === 'boolean') {
        set(name, def, eq < 0 ? 'true' : arg.slice(eq + 1), shown);
      } else if (eq >= 0) {
        set(name, def, arg.slice(eq + 1), shown);
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: --${key}`);
        set(name, def, argv[++i]!, shown);
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      let rest = arg.slice(1);
      while (rest.length > 0) {
        const c = rest[0]!;
        const hit = byChar.get(c);
        if (!hit) {
          if (c === 'h') throw new HelpRequested();
          throw new UsageError(`unknown shorthand flag: '${c}' in -${rest}`);
        }
        const [name, def] = hit;
        const shown = `-${c}, --${name}`;
        if (def.type === 'boolean') {
          if (rest[1] === '=') {
            set(name, def, rest.slice(2), shown);
            rest = '';
          } else {
            set(name, def, 'true', shown);
            rest = rest.slice(1);
          }
          continue;
        }
        if (rest.length > 1) {
          set(name, def, rest[1] === '=' ? rest.slice(2) : rest.slice(1), shown);
        } else {
          if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: '${c}' in -${c}`);
          set(name, def, argv[++i]!, shown);
        }
        rest = '';
      }
      continue;
    }
    positionals.push(arg);
    if (!interspersed) {
      positionals.push(...argv.slice(i + 1));
      break;
    }
  }
  return { flags, changed, positionals };
}

function convert(def: FlagDef, raw: string, shown: string, prev: unknown): unknown {
  switch (def.type) {
    case 'boolean': {
      const v = parseBool(raw);
      if (v === undefined) throw new UsageError(`invalid argument "${raw}" for "${shown}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
      return v;
    }
    case 'integer': {
      if (!/^[-+]?\d+$/.test(raw.trim())) {
        throw new UsageError(`invalid argument "${raw}" for "${shown}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`);
      }
      return Number(raw);
    }
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || Number.isNaN(n)) {
        throw new UsageError(`invalid argument "${raw}" for "${shown}" flag: strconv.ParseFloat: parsing "${raw}": invalid syntax`);
      }
      return n;
    }
    case 'strings':
      return [...(prev as string[]), raw];
    case 'string':
      if (def.options && !def.options.includes(raw)) {
        throw new UsageError(`invalid argument "${raw}" for "${shown}" flag: must be one of ${def.options.join(', ')}`);
      }
      return raw;
  }
}

/** Go's strconv.ParseBool. */
export function parseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(s)) return false;
  return undefined;
}

/** `--help`/`-h` anywhere among the flags. */
export class HelpRequested extends Error {}
