// `--format` as docker's CLI handles it: "" or "table" → the command's default table; "table TEMPLATE" →
// a table with headers; "json" → one JSON object per line; anything else → the template once per item.
// Tables are laid out with docker's tabwriter settings.
import { CliError } from '../framework/errors.ts';
import { tabwrite } from './tabwriter.ts';
import { Template, TemplateError, printValue, type TemplateFunc } from './template/index.ts';

export { STRICT } from './template/index.ts';

export function isTableFormat(format: string): boolean {
  return format.startsWith('table');
}

/** The template source for a `--format` value (docker's Format.templateString). */
export function templateSource(format: string, defaultTable: string): string {
  let f = format;
  if (f === '' || f === 'table') f = defaultTable;
  if (f === 'json') return '{{json .}}';
  if (f.startsWith('table')) f = f.slice('table'.length);
  return f.replace(/^ +| +$/g, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

export function compile(source: string, extra: Record<string, TemplateFunc> = {}): Template {
  try {
    return new Template(source, extra);
  } catch (err) {
    if (err instanceof TemplateError) throw new CliError(`template parsing error: ${err.message}`, 1);
    throw err;
  }
}

export function execute(t: Template, data: unknown): string {
  try {
    return t.execute(data);
  } catch (err) {
    if (err instanceof TemplateError) throw new CliError(`template parsing error: ${err.message}`, 1);
    throw err;
  }
}

/** Header rendering: docker's functions pass their first argument through, so `{{upper .ID}}` heads "CONTAINER ID". */
const HEADER_FUNCS: Record<string, TemplateFunc> = Object.fromEntries(
  ['json', 'split', 'join', 'title', 'lower', 'upper', 'pad', 'truncate'].map((n) => [n, (v: unknown) => printValue(v)]),
);

/**
 * Renders items with a `--format` value. `header` maps field names to column titles (for tables).
 * Returns the text to print (ending in a newline unless there is nothing to print).
 */
export function renderList(format: string, defaultTable: string, items: unknown[], header: Record<string, string>): string {
  const table = format === '' || isTableFormat(format);
  const t = compile(templateSource(format, defaultTable));
  let body = '';
  for (const item of items) body += `${execute(t, item)}\n`;
  if (!table) return body;
  const headerCtx = new Proxy(header, {
    get: (target, prop) => (typeof prop === 'string' ? (target[prop] ?? headerFallback(prop)) : undefined),
    has: () => true,
  });
  const ht = compile(templateSource(format, defaultTable), HEADER_FUNCS);
  const head = execute(ht, headerCtx);
  return tabwrite(`${head}\n${body}`);
}

function headerFallback(prop: string): unknown {
  // methods with arguments (`{{.Label "x"}}`) head their column with the upper-cased method name
  return () => prop.toUpperCase();
}

/** Prints one value per item for `--format` in inspect-style commands (no table, no header). */
export function renderEach(format: string, items: unknown[]): string {
  const t = compile(templateSource(format, ''));
  return items.map((i) => `${execute(t, i)}\n`).join('');
}
