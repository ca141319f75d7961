// Flag definitions in oclif's shape (`Flags.boolean({char, description})`…) with pflag's semantics, which is
// what docker's users type: `--rm=false`, `-itd`, `-p8080:80`, `-e=X`, repeatable list flags.

export interface FlagBase {
  /** One-letter shorthand (`-a`). */
  char?: string;
  description: string;
  hidden?: boolean;
  /** The value's name in help ("string", "list", "int", "bytes", …). */
  helpValue?: string;
  /** Other long names accepted for this flag (deprecated spellings). */
  aliases?: string[];
  /** Shown as "(default …)" in help; not applied by the parser. */
  defaultHelp?: string;
}

export interface BooleanFlag extends FlagBase {
  type: 'boolean';
  default?: boolean;
}

export interface StringFlag extends FlagBase {
  type: 'string';
  default?: string;
  options?: readonly string[];
}

export interface StringsFlag extends FlagBase {
  type: 'strings';
  default?: string[];
}

export interface IntegerFlag extends FlagBase {
  type: 'integer';
  default?: number;
}

export interface NumberFlag extends FlagBase {
  type: 'number';
  default?: number;
}

export type FlagDef = BooleanFlag | StringFlag | StringsFlag | IntegerFlag | NumberFlag;
export type FlagMap = Record<string, FlagDef>;

type Opts<T extends FlagDef> = Omit<T, 'type'>;

export const Flags = {
  boolean: <O extends Opts<BooleanFlag>>(o: O): BooleanFlag & O => ({ type: 'boolean', ...o }),
  string: <O extends Opts<StringFlag>>(o: O): StringFlag & O => ({ type: 'string', helpValue: 'string', ...o }),
  /** A repeatable flag (`-e A -e B`); each occurrence appends. */
  strings: <O extends Opts<StringsFlag>>(o: O): StringsFlag & O => ({ type: 'strings', helpValue: 'list', ...o }),
  integer: <O extends Opts<IntegerFlag>>(o: O): IntegerFlag & O => ({ type: 'integer', helpValue: 'int', ...o }),
  number: <O extends Opts<NumberFlag>>(o: O): NumberFlag & O => ({ type: 'number', helpValue: 'decimal', ...o }),
};

/** The parsed value type of each flag in a map (booleans and lists always defined). */
export type FlagValues<F extends FlagMap> = {
  [K in keyof F]: F[K] extends BooleanFlag ? boolean
    : F[K] extends StringsFlag ? string[]
      : F[K] extends IntegerFlag | NumberFlag ? (F[K] extends { default: number } ? number : number | undefined)
        : F[K] extends { default: string } ? string : string | undefined;
};

export interface ArgDef {
  name: string;
  required?: boolean;
  /** Takes all remaining positionals. */
  multiple?: boolean;
}

/** Positional arguments in order, as in oclif's `static args`. */
export const Args = {
  string: (name: string, o: Omit<ArgDef, 'name'> = {}): ArgDef => ({ name, ...o }),
};
