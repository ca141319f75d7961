/**
 * Instruction nodes → typed instructions grouped into stages, with the frontend's validation and messages
 * ("dockerfile parse error on line 3: unknown instruction: FORM (did you mean FROM?)", "ENV requires at least
 * one argument", "unknown flag: --form (did you mean from?)"). Values are kept as written; variable
 * substitution happens when a step runs (./dispatch.ts), because it depends on the state reached by then.
 */
import { InvalidArgumentError } from '@berth/errdefs';
import { chompHeredocContent, parseDockerfile, parseHeredoc, type Heredoc, type Node, type ParseResult } from './parser.ts';
import { suggest, withSuggestion } from './suggest.ts';

export const INSTRUCTION_NAMES = [
  'add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck', 'label', 'maintainer', 'onbuild', 'run', 'shell',
  'stopsignal', 'user', 'volume', 'workdir',
] as const;

export interface KeyValue {
  key: string;
  value: string;
  /** Legacy `ENV KEY value` form. */
  noDelim: boolean;
}

interface Base {
  /** The keyword as written. */
  name: string;
  /** The instruction's source text (first line of a heredoc instruction), as `Step n/m :` prints it. */
  code: string;
  line: number;
}

/** A heredoc given as a COPY/ADD source. */
export interface SourceContent {
  path: string;
  data: string;
  expand: boolean;
}

export interface SourcesAndDest {
  sources: string[];
  contents: SourceContent[];
  dest: string;
}

/** RUN, CMD, ENTRYPOINT: exec form (`prependShell` false) or shell form (one string). */
export interface ShellDependent {
  cmdLine: string[] | null;
  /** Heredoc bodies (RUN). */
  files: { name: string; data: string; chomp: boolean }[];
  prependShell: boolean;
}

export interface HealthConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export type Instruction =
  | (Base & { kind: 'env'; env: KeyValue[] })
  | (Base & { kind: 'maintainer'; maintainer: string })
  | (Base & { kind: 'label'; labels: KeyValue[]; noExpand?: boolean })
  | (Base & { kind: 'add'; src: SourcesAndDest; chown: string; chmod: string; checksum: string; link: boolean; excludes: string[]; unpack?: boolean })
  | (Base & { kind: 'copy'; src: SourcesAndDest; from: string; chown: string; chmod: string; link: boolean; parents: boolean; excludes: string[] })
  | (Base & { kind: 'onbuild'; expression: string })
  | (Base & { kind: 'workdir'; path: string })
  | (Base & { kind: 'run'; cmd: ShellDependent; mounts: string[]; network: string; security: string })
  | (Base & { kind: 'cmd'; cmd: ShellDependent })
  | (Base & { kind: 'entrypoint'; cmd: ShellDependent })
  | (Base & { kind: 'healthcheck'; health: HealthConfig })
  | (Base & { kind: 'expose'; ports: string[] })
  | (Base & { kind: 'user'; user: string })
  | (Base & { kind: 'volume'; volumes: string[] })
  | (Base & { kind: 'stopsignal'; signal: string })
  | (Base & { kind: 'arg'; args: { key: string; value?: string }[] })
  | (Base & { kind: 'shell'; shell: string[] });

export interface Stage {
  /** Lower-cased `AS` name, '' when unnamed. */
  name: string;
  /** The image or stage it starts from, as written (may contain `$ARG`s). */
  baseName: string;
  platform: string;
  code: string;
  line: number;
  commands: Instruction[];
}

export interface Dockerfile {
  stages: Stage[];
  /** ARGs before the first FROM. */
  metaArgs: Extract<Instruction, { kind: 'arg' }>[];
  escapeToken: string;
  warnings: string[];
  directives: Record<string, string>;
}

/** An instruction that failed validation, with its line (the message is Docker's, with the line). */
export class InstructionError extends InvalidArgumentError {
  readonly line: number;
  readonly detail: string;

  constructor(detail: string, line: number, withLine = true) {
    super(withLine ? `dockerfile parse error on line ${line}: ${detail}` : detail);
    this.detail = detail;
    this.line = line;
  }
}

type FlagType = 'bool' | 'string' | 'strings';

/** The `--flag` parser of one instruction. */
class Flags {
  private readonly args: string[];
  private readonly defs = new Map<string, { type: FlagType; value: string; values: string[] }>();
  readonly used = new Set<string>();

  constructor(args: string[]) {
    this.args = args;
  }

  add(name: string, type: FlagType, def = ''): { readonly value: string; readonly values: string[] } {
    const f = { type, value: type === 'bool' ? (def === 'true' ? 'true' : 'false') : def, values: [] as string[] };
    this.defs.set(name, f);
    return f;
  }

  parse(): void {
    for (const a of this.args) {
      if (a === '--') return;
      if (!a.startsWith('--')) throw new InvalidArgumentError(`arg should start with -- : ${a}`);
      const eq = a.indexOf('=');
      const flagName = eq < 0 ? a : a.slice(0, eq);
      const value = eq < 0 ? '' : a.slice(eq + 1);
      const name = flagName.slice(2);
      const f = this.defs.get(name);
      if (!f) throw new InvalidArgumentError(withSuggestion(`unknown flag: ${flagName}`, name, [...this.defs.keys()], true));
      if (this.used.has(name) && f.type !== 'strings') throw new InvalidArgumentError(`duplicate flag specified: ${flagName}`);
      this.used.add(name);
      if (f.type === 'bool') {
        if (eq >= 0 && value === '') throw new InvalidArgumentError(`missing a value on flag: ${flagName}`);
        const v = value.toLowerCase();
        if (v === 'true' || v === '') f.value = 'true';
        else if (v === 'false') f.value = 'false';
        else throw new InvalidArgumentError(`expecting boolean value for flag ${flagName}, not: ${value}`);
      } else if (f.type === 'string') {
        if (eq < 0) throw new InvalidArgumentError(`missing a value on flag: ${flagName}`);
        f.value = value;
      } else {
        if (eq < 0) throw new InvalidArgumentError(`missing a value on flag: ${flagName}`);
        f.values.push(value);
      }
    }
  }
}

/** Go's time.ParseDuration, in nanoseconds. */
export function parseDuration(s: string): number {
  if (s === '0') return 0;
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let i = 0;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    sign = s[0] === '-' ? -1 : 1;
    i = 1;
  }
  if (i >= s.length) throw new InvalidArgumentError(`time: invalid duration ${JSON.stringify(s)}`);
  let total = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) throw new InvalidArgumentError(`time: invalid duration ${JSON.stringify(s)}`);
    total += Number(m[1]) * units[m[2]!]!;
    i = re.lastIndex;
  }
  return Math.round(sign * total);
}

function shellDependent(node: Node, emptyAsNull: boolean): ShellDependent {
  let args: string[];
  if (node.args.length === 0) args = [];
  else if (node.json) args = node.args;
  else args = [node.args.join(' ')];
  return {
    cmdLine: emptyAsNull && args.length === 0 ? null : args,
    files: node.heredocs.map((h) => ({ name: h.name, data: h.content, chomp: h.chomp })),
    prependShell: !node.json,
  };
}

function sourcesAndDest(node: Node, cmd: string): SourcesAndDest {
  const srcs = node.args.slice(0, -1);
  const dest = node.args[node.args.length - 1]!;
  if (parseHeredoc(dest)) throw new InvalidArgumentError(`${cmd} cannot accept a heredoc as a destination`);
  const byName = new Map<string, Heredoc>(node.heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const contents: SourceContent[] = [];
  for (const s of srcs) {
    const h = node.json ? undefined : parseHeredoc(s);
    if (h) {
      let data = byName.get(h.name)?.content ?? '';
      if (h.chomp) data = chompHeredocContent(data);
      contents.push({ path: h.name, data, expand: h.expand });
    } else {
      sources.push(s);
    }
  }
  return { sources, contents, dest };
}

function kvs(args: string[], cmd: string): KeyValue[] {
  if (args.length === 0) throw new InvalidArgumentError(`${cmd} requires at least one argument`);
  if (args.length % 3 !== 0) throw new InvalidArgumentError(`Bad input to ${cmd}, too many arguments`);
  const out: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 3) {
    if (args[i] === '') throw new InvalidArgumentError(`${cmd} names can not be blank`);
    out.push({ key: args[i]!, value: args[i + 1]!, noDelim: args[i + 2] === '' });
  }
  return out;
}

const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/;

/** One node → an instruction (or a stage for FROM). Errors carry Docker's message without the line. */
export function parseInstruction(node: Node): Instruction | Stage {
  const base: Base = { name: node.value, code: node.original.trim(), line: node.startLine };
  const flags = new Flags(node.flags);
  const args = node.args;
  const cmd = node.value.toLowerCase();
  const exactlyOne = (what: string) => {
    if (args.length !== 1) throw new InvalidArgumentError(`${what} requires exactly one argument`);
  };
  switch (cmd) {
    case 'env':
      flags.parse();
      return { ...base, kind: 'env', env: kvs(args, 'ENV') };
    case 'maintainer':
      exactlyOne('MAINTAINER');
      flags.parse();
      return { ...base, kind: 'maintainer', maintainer: args[0]! };
    case 'label':
      flags.parse();
      return { ...base, kind: 'label', labels: kvs(args, 'LABEL') };
    case 'add': {
      if (args.length < 2) throw new InvalidArgumentError('ADD requires at least two arguments, but only one was provided. Destination could not be determined');
      const chown = flags.add('chown', 'string');
      const chmod = flags.add('chmod', 'string');
      const link = flags.add('link', 'bool');
      flags.add('keep-git-dir', 'bool');
      const checksum = flags.add('checksum', 'string');
      const unpack = flags.add('unpack', 'bool');
      const exclude = flags.add('exclude', 'strings');
      flags.parse();
      return {
        ...base, kind: 'add', src: sourcesAndDest(node, 'ADD'), chown: chown.value, chmod: chmod.value, checksum: checksum.value,
        link: link.value === 'true', excludes: exclude.values, ...(flags.used.has('unpack') ? { unpack: unpack.value === 'true' } : {}),
      };
    }
    case 'copy': {
      if (args.length < 2) throw new InvalidArgumentError('COPY requires at least two arguments, but only one was provided. Destination could not be determined');
      const chown = flags.add('chown', 'string');
      const from = flags.add('from', 'string');
      const chmod = flags.add('chmod', 'string');
      const link = flags.add('link', 'bool');
      const exclude = flags.add('exclude', 'strings');
      const parents = flags.add('parents', 'bool');
      flags.parse();
      return {
        ...base, kind: 'copy', src: sourcesAndDest(node, 'COPY'), from: from.value, chown: chown.value, chmod: chmod.value,
        link: link.value === 'true', parents: parents.value === 'true', excludes: exclude.values,
      };
    }
    case 'from': {
      let name = '';
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        name = args[2]!.toLowerCase();
        if (!STAGE_NAME_RE.test(name)) {
          throw new InvalidArgumentError(`invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) {
        throw new InvalidArgumentError('FROM requires either one or three arguments');
      }
      const platform = flags.add('platform', 'string');
      flags.parse();
      return { name, baseName: args[0]!, platform: platform.value, code: base.code, line: base.line, commands: [] };
    }
    case 'onbuild': {
      if (args.length === 0) throw new InvalidArgumentError('ONBUILD requires at least one argument');
      flags.parse();
      const trigger = args[0]!.trim().toUpperCase();
      if (trigger === 'ONBUILD') throw new InvalidArgumentError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new InvalidArgumentError(`${trigger} isn't allowed as an ONBUILD trigger`);
      let expression = node.original.replace(/^\s*ONBUILD\s*/iu, '');
      for (const h of node.heredocs) expression += `\n${h.content}${h.name}`;
      return { ...base, kind: 'onbuild', expression };
    }
    case 'workdir':
      exactlyOne('WORKDIR');
      flags.parse();
      return { ...base, kind: 'workdir', path: args[0]! };
    case 'run': {
      const mount = flags.add('mount', 'strings');
      const network = flags.add('network', 'string');
      const security = flags.add('security', 'string');
      flags.parse();
      if (network.value && !['default', 'none', 'host'].includes(network.value)) {
        throw new InvalidArgumentError(`unsupported network mode ${JSON.stringify(network.value)}`);
      }
      if (security.value && !['sandbox', 'insecure'].includes(security.value)) {
        throw new InvalidArgumentError(`unsupported security mode ${JSON.stringify(security.value)}`);
      }
      return { ...base, kind: 'run', cmd: shellDependent(node, false), mounts: mount.values, network: network.value, security: security.value };
    }
    case 'cmd':
      flags.parse();
      return { ...base, kind: 'cmd', cmd: shellDependent(node, false) };
    case 'entrypoint':
      flags.parse();
      return { ...base, kind: 'entrypoint', cmd: shellDependent(node, true) };
    case 'healthcheck':
      return { ...base, kind: 'healthcheck', health: parseHealthcheck(node, flags) };
    case 'expose':
      if (args.length === 0) throw new InvalidArgumentError('EXPOSE requires at least one argument');
      flags.parse();
      return { ...base, kind: 'expose', ports: [...args].sort() };
    case 'user':
      exactlyOne('USER');
      flags.parse();
      return { ...base, kind: 'user', user: args[0]! };
    case 'volume': {
      if (args.length === 0) throw new InvalidArgumentError('VOLUME requires at least one argument');
      flags.parse();
      const volumes = args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) throw new InvalidArgumentError('VOLUME specified can not be an empty string');
      return { ...base, kind: 'volume', volumes };
    }
    case 'stopsignal':
      exactlyOne('STOPSIGNAL');
      return { ...base, kind: 'stopsignal', signal: args[0]! };
    case 'arg': {
      if (args.length === 0) throw new InvalidArgumentError('ARG requires at least one argument');
      const out = args.map((a) => {
        const i = a.indexOf('=');
        if (i < 0) return { key: a };
        if (i === 0) throw new InvalidArgumentError('ARG names can not be blank');
        return { key: a.slice(0, i), value: a.slice(i + 1) };
      });
      return { ...base, kind: 'arg', args: out };
    }
    case 'shell': {
      flags.parse();
      const sd = shellDependent(node, false);
      if (!sd.cmdLine || sd.cmdLine.length === 0) throw new InvalidArgumentError('SHELL requires at least one argument');
      if (!node.json) throw new InvalidArgumentError(`SHELL requires the arguments to be in JSON form`);
      return { ...base, kind: 'shell', shell: sd.cmdLine };
    }
    default: {
      const s = suggest(node.value, INSTRUCTION_NAMES.map((n) => n.toUpperCase()), false);
      throw new InvalidArgumentError(`unknown instruction: ${node.value}${s ? ` (did you mean ${s}?)` : ''}`);
    }
  }
}

function parseHealthcheck(node: Node, flags: Flags): HealthConfig {
  if (node.args.length === 0) throw new InvalidArgumentError('HEALTHCHECK requires at least one argument');
  let typ = node.args[0]!.toUpperCase();
  const rest = node.args.slice(1);
  if (typ === 'NONE') {
    if (rest.length !== 0) throw new InvalidArgumentError('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  const interval = flags.add('interval', 'string');
  const timeout = flags.add('timeout', 'string');
  const startPeriod = flags.add('start-period', 'string');
  const startInterval = flags.add('start-interval', 'string');
  const retries = flags.add('retries', 'string');
  flags.parse();
  if (typ !== 'CMD') throw new InvalidArgumentError(`Unknown type ${JSON.stringify(typ)} in HEALTHCHECK (try CMD)`);
  const cmdSlice = rest.length === 0 ? [] : node.json ? rest : [rest.join(' ')];
  if (cmdSlice.length === 0) throw new InvalidArgumentError('Missing command after HEALTHCHECK CMD');
  if (!node.json) typ = 'CMD-SHELL';
  const h: HealthConfig = { Test: [typ, ...cmdSlice] };
  const dur = (f: { value: string }, name: string): number | undefined => {
    if (f.value === '') return undefined;
    const d = parseDuration(f.value);
    if (d === 0) return undefined;
    if (d < 1e6) throw new InvalidArgumentError(`Interval "${name}" cannot be less than 1ms`);
    return d;
  };
  const iv = dur(interval, 'interval');
  const to = dur(timeout, 'timeout');
  const sp = dur(startPeriod, 'start-period');
  const si = dur(startInterval, 'start-interval');
  if (iv !== undefined) h.Interval = iv;
  if (to !== undefined) h.Timeout = to;
  if (sp !== undefined) h.StartPeriod = sp;
  if (si !== undefined) h.StartInterval = si;
  if (retries.value !== '') {
    if (!/^[+-]?\d+$/.test(retries.value)) throw new InvalidArgumentError(`strconv.ParseInt: parsing ${JSON.stringify(retries.value)}: invalid syntax`);
    const r = Number(retries.value);
    if (r < 0) throw new InvalidArgumentError(`--retries cannot be negative (${r})`);
    if (r > 0) h.Retries = r;
  }
  return h;
}

/** Groups parsed nodes into stages (ARGs before the first FROM are meta args). */
export function instructionsFrom(result: ParseResult): Dockerfile {
  const stages: Stage[] = [];
  const metaArgs: Extract<Instruction, { kind: 'arg' }>[] = [];
  for (const n of result.nodes) {
    let parsed: Instruction | Stage;
    try {
      parsed = parseInstruction(n);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new InstructionError(err.message, n.startLine);
      throw err;
    }
    if ('commands' in parsed) {
      stages.push(parsed);
      continue;
    }
    if (stages.length === 0) {
      if (parsed.kind === 'arg') {
        metaArgs.push(parsed);
        continue;
      }
      throw new InstructionError('no build stage in current context', n.startLine, false);
    }
    stages[stages.length - 1]!.commands.push(parsed);
  }
  return { stages, metaArgs, escapeToken: result.escapeToken, warnings: result.warnings, directives: result.directives };
}

/** Text → stages; every error is an InvalidArgumentError with Docker's wording and the line. */
export function parseDockerfileInstructions(text: string | Buffer): Dockerfile {
  return instructionsFrom(parseDockerfile(text));
}

/** Parses one instruction (ONBUILD triggers, `--change`), refusing FROM. */
export function parseSingleInstruction(text: string): Instruction {
  const r = parseDockerfile(text);
  if (r.nodes.length !== 1) throw new InvalidArgumentError('onbuild trigger should be a single expression');
  const n = parseInstruction(r.nodes[0]!);
  if ('commands' in n) throw new InvalidArgumentError('FROM isn\'t allowed as an ONBUILD trigger');
  return n;
}
