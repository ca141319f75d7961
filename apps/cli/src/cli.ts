// The runner: global flags, command resolution through the lazy command table, help, and the single place
// where errors become messages and exit codes (docker's: usage errors 125, other failures 1, a container's
// own status where the command passes it through).
import { ALIASES, COMMANDS, COMMON, GROUPS, aliasesOf, resolve } from './commands.ts';
import { BIN, Context, VERSION, writeStdout, type GlobalOptions } from './context.ts';
import { USAGE_PLACEHOLDER, type CommandClass } from './framework/command.ts';
import { CliError, ExitStatus, UsageError } from './framework/errors.ts';
import { Flags, type FlagMap } from './framework/flags.ts';
import { commandHelp, flagUsages, groupHelp, usageLine } from './framework/help.ts';
import { HelpRequested, parseArgv } from './framework/parser.ts';
import { suggest } from './framework/suggest.ts';

export const GLOBAL_FLAGS = {
  'config': Flags.string({ description: 'Location of client config files', defaultHelp: '"~/.berth"' }),
  'context': Flags.string({ char: 'c', description: 'Name of the context to use to connect to the daemon (only "default" is supported)' }),
  'debug': Flags.boolean({ char: 'D', description: 'Enable debug mode' }),
  'host': Flags.strings({ char: 'H', description: 'Daemon socket to connect to' }),
  'log-level': Flags.string({ char: 'l', description: 'Set the logging level ("debug", "info", "warn", "error", "fatal")', default: 'info' }),
  'tls': Flags.boolean({ description: 'Use TLS; implied by --tlsverify' }),
  'tlscacert': Flags.string({ description: 'Trust certs signed only by this CA', defaultHelp: '"~/.berth/ca.pem"' }),
  'tlscert': Flags.string({ description: 'Path to TLS certificate file', defaultHelp: '"~/.berth/cert.pem"' }),
  'tlskey': Flags.string({ description: 'Path to TLS key file', defaultHelp: '"~/.berth/key.pem"' }),
  'tlsverify': Flags.boolean({ description: 'Use TLS and verify the remote' }),
  'version': Flags.boolean({ char: 'v', description: 'Print version information and quit' }),
} satisfies FlagMap;

export async function main(argv: string[]): Promise<number> {
  let ctx: Context | undefined;
  let debug = false;
  let path = BIN;
  let usage = '';
  try {
    let parsed;
    try {
      parsed = parseArgv(argv, GLOBAL_FLAGS, false);
    } catch (err) {
      if (err instanceof HelpRequested) {
        writeStdout(rootHelp());
        return 0;
      }
      usage = '[OPTIONS] COMMAND';
      throw err;
    }
    const f = parsed.flags as { [K in keyof typeof GLOBAL_FLAGS]: K extends 'host' ? string[] : K extends 'debug' | 'tls' | 'tlsverify' | 'version' ? boolean : string | undefined };
    debug = f.debug || f['log-level'] === 'debug';
    if (f.version) {
      writeStdout(`${BIN} version ${VERSION}, build node-${process.versions.node}\n`);
      return 0;
    }
    if (f.host.length > 1) throw new CliError('Specify only one -H', 1);
    if (f.context && f.context !== 'default') throw new CliError(`context "${f.context}" does not exist`, 1);
    const global: GlobalOptions = {
      host: f.host[0], tls: f.tls, tlsverify: f.tlsverify, tlscacert: f.tlscacert, tlscert: f.tlscert, tlskey: f.tlskey,
      config: f.config, debug: f.debug, logLevel: f['log-level'] ?? 'info', context: f.context,
    };
    ctx = new Context(global);

    const words = parsed.positionals;
    if (words.length === 0) {
      writeStdout(rootHelp());
      return 0;
    }
    const r = resolve(words);
    if (r.group !== undefined) {
      const sub = words[1];
      if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
        writeStdout(groupHelpFor(r.group));
        return 0;
      }
      path = `${BIN} ${r.group}`;
      const subs = Object.keys(COMMANDS).concat(Object.keys(ALIASES)).filter((k) => k.startsWith(`${r.group} `)).map((k) => k.slice(r.group!.length + 1));
      throw new CliError(`${BIN}: unknown command: ${BIN} ${r.group} ${sub}${didYouMean(sub, subs)}\n\nUsage:  ${BIN} ${r.group}\n\nRun '${BIN} ${r.group} --help' for more information`, 1);
    }
    if (r.id === undefined) {
      const word = words[0]!;
      if (word === 'help') {
        writeStdout(rootHelp());
        return 0;
      }
      const names = new Set([...Object.keys(COMMANDS), ...Object.keys(ALIASES), ...Object.keys(GROUPS)].map((k) => k.split(' ')[0]!));
      throw new CliError(`${BIN}: unknown command: ${BIN} ${word}${didYouMean(word, names)}\n\nRun '${BIN} --help' for more information`, 1);
    }
    path = `${BIN} ${words.slice(0, r.consumed).join(' ')}`;
    const Cmd = await loadCommand(r.id);
    usage = usageLine(path, Cmd.usage);
    const cmd = new Cmd(words.slice(r.consumed), ctx, path);
    try {
      const code = await cmd.run();
      return typeof code === 'number' ? code : 0;
    } catch (err) {
      if (err instanceof HelpRequested) {
        ctx.flush();
        writeStdout(helpFor(r.id, Cmd, path));
        return 0;
      }
      throw err;
    }
  } catch (err) {
    ctx?.flush();
    return await report(err, path, usage, debug);
  } finally {
    ctx?.flush();
  }
}

async function loadCommand(id: string): Promise<CommandClass> {
  const entry = COMMANDS[id]!;
  const Cmd = (await entry.load()).default;
  Cmd.id = id;
  if (!Cmd.summary) Cmd.summary = entry.summary;
  return Cmd;
}

async function report(err: unknown, path: string, usage: string, debug: boolean): Promise<number> {
  if (err instanceof ExitStatus) return err.exit;
  let message: string;
  let code = 1;
  if (err instanceof UsageError || (err instanceof CliError && err.showUsage)) {
    message = `${err.message}\n\nUsage:  ${usage || path}\n\nRun '${path} --help' for more information`;
    code = err.exit;
  } else if (err instanceof CliError) {
    message = err.message.replace(USAGE_PLACEHOLDER, usage || path);
    code = err.exit;
  } else {
    // loaded only on this path: it pulls in the API client
    const { describeError } = await import('./lib/describe.ts');
    message = describeError(err);
  }
  if (message) process.stderr.write(`${message}\n`);
  if (debug && err instanceof Error && !(err instanceof CliError) && err.stack) process.stderr.write(`${err.stack}\n`);
  return code;
}

function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates).slice(0, 3);
  return s.length ? `\n\nDid you mean this?\n${s.map((x) => `\t${x}`).join('\n')}` : '';
}

function helpFor(id: string, Cmd: CommandClass, path: string): string {
  return commandHelp({
    path, usage: Cmd.usage, summary: Cmd.summary, description: Cmd.description, flags: Cmd.flags, examples: Cmd.examples,
    aliases: [...aliasesOf(id), ...Cmd.aliases].map((a) => `${BIN} ${a}`),
  });
}

function groupHelpFor(group: string): string {
  const subs: Array<[string, string]> = Object.entries(COMMANDS)
    .filter(([id, e]) => id.startsWith(`${group} `) && !e.hidden)
    .map(([id, e]) => [id.slice(group.length + 1), e.summary]);
  return groupHelp(BIN, group, GROUPS[group]!, subs);
}

function rootHelp(): string {
  const line = (name: string, summary: string) => `  ${name.padEnd(11)} ${summary}`;
  const summaryOf = (name: string) => COMMANDS[ALIASES[name] ?? name]?.summary ?? '';
  const topLevel = [...new Set([...Object.keys(ALIASES), ...Object.keys(COMMANDS)].filter((k) => !k.includes(' ')))]
    .filter((k) => !COMMON.includes(k)).sort();
  const out = [
    `Usage:  ${BIN} [OPTIONS] COMMAND`, '', 'A container engine in TypeScript, Docker-compatible', '',
    'Common Commands:', ...COMMON.map((c) => line(c, summaryOf(c))), '',
    'Management Commands:', ...Object.entries(GROUPS).map(([g, s]) => line(g, s)), '',
    'Commands:', ...topLevel.map((c) => line(c, summaryOf(c))), '',
    'Global Options:', flagUsages(GLOBAL_FLAGS), '',
    `Run '${BIN} COMMAND --help' for more information on a command.`, '',
  ];
  return out.join('\n');
}
