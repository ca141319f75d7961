// Help text laid out like docker's (cobra + pflag): usage line, description, aliases, options with their
// value names, examples; management commands list their subcommands.
import type { FlagDef, FlagMap } from './flags.ts';

const WIDTH = 80;

export interface HelpSubject {
  path: string;
  usage: string;
  summary: string;
  description?: string;
  aliases: string[];
  flags: FlagMap;
  examples: string[];
}

export function usageLine(path: string, usage: string): string {
  return usage ? `${path} ${usage}` : path;
}

export function commandHelp(s: HelpSubject): string {
  const out: string[] = [`Usage:  ${usageLine(s.path, s.usage)}`, '', s.description ?? s.summary];
  if (s.aliases.length > 1) out.push('', 'Aliases:', `  ${s.aliases.join(', ')}`);
  const opts = flagUsages(s.flags);
  if (opts) out.push('', 'Options:', opts);
  if (s.examples.length) out.push('', 'Examples:', ...s.examples.map((e) => `  ${e}`));
  return `${out.join('\n')}\n`;
}

export function groupHelp(bin: string, group: string, summary: string, subcommands: Array<[string, string]>): string {
  const out = [`Usage:  ${bin} ${group} COMMAND`, '', summary, '', 'Commands:'];
  for (const [name, sum] of subcommands) out.push(`  ${name.padEnd(11)} ${sum}`);
  out.push('', `Run '${bin} ${group} COMMAND --help' for more information on a command.`);
  return `${out.join('\n')}\n`;
}

/** pflag's FlagUsages: `  -a, --all   Description`, value names, defaults, wrapped descriptions. */
export function flagUsages(flags: FlagMap): string {
  const rows: Array<[string, string]> = [];
  for (const [name, def] of Object.entries(flags).sort(([a], [b]) => a.localeCompare(b))) {
    if (def.hidden) continue;
    const left = `${def.char ? `  -${def.char}, ` : '      '}--${name}${valueName(def)}`;
    rows.push([left, def.description + defaultText(def)]);
  }
  if (rows.length === 0) return '';
  const col = Math.max(...rows.map(([l]) => l.length)) + 3;
  return rows.map(([l, d]) => l.padEnd(col) + wrap(d, Math.max(WIDTH - col, 30)).join(`\n${' '.repeat(col)}`)).join('\n');
}

function valueName(def: FlagDef): string {
  return def.type === 'boolean' ? '' : ` ${def.helpValue ?? 'string'}`;
}

function defaultText(def: FlagDef): string {
  if (def.defaultHelp !== undefined) return ` (default ${def.defaultHelp})`;
  if (def.type === 'boolean') return def.default ? ' (default true)' : '';
  if (def.type === 'string') return def.default ? ` (default "${def.default}")` : '';
  if (def.type === 'integer' || def.type === 'number') return def.default !== undefined && def.default !== 0 ? ` (default ${def.default})` : '';
  return '';
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(' ')) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(line);
  }
  return lines;
}
