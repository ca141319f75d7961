/**
 * Dockerfile text → a list of instruction nodes (the frontend's low-level AST). Handles parser directives
 * (`# syntax=`, `# escape=`, `# check=`), line continuations with the escape token, comment lines (also inside
 * continuations), the JSON (exec) form, `--flags`, heredocs (`RUN <<EOF`, `COPY <<-"EOT" /x`) and the
 * per-instruction argument shapes (name=value lists, whitespace lists, ONBUILD's nested instruction).
 * Instruction semantics and their errors are in ./instructions.ts.
 */
import { InvalidArgumentError } from '@berth/errdefs';
import { EMPTY_ENV, ShellLex } from './shell-lex.ts';

export interface Heredoc {
  /** The terminator word (quotes removed). */
  name: string;
  fileDescriptor: number;
  /** False when any part of the terminator was quoted: the content is not expanded. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the content and the terminator line. */
  chomp: boolean;
  content: string;
}

export interface Node {
  /** The instruction keyword as written (`from`, `RUN`, …). */
  value: string;
  /** The instruction's text after joining continuation lines (without heredoc bodies). */
  original: string;
  /** Builder flags (`--from=x`) in order. */
  flags: string[];
  /** Arguments; for ENV and LABEL triples of key, value and `=` (or `` for the legacy `KEY value` form). */
  args: string[];
  /** The arguments were a JSON array (exec form). */
  json: boolean;
  heredocs: Heredoc[];
  /** ONBUILD: the instruction it wraps. */
  sub?: Node;
  /** 1-based lines where the instruction starts and ends. */
  startLine: number;
  endLine: number;
  /** Comment lines right above the instruction (without `#`). */
  comments: string[];
}

export interface ParseResult {
  nodes: Node[];
  escapeToken: string;
  directives: Record<string, string>;
  warnings: string[];
}

/** A Dockerfile syntax error with the line it was found on (1-based). */
export class DockerfileSyntaxError extends InvalidArgumentError {
  readonly line: number;

  constructor(message: string, line: number) {
    super(message);
    this.line = line;
  }
}

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);
const HEREDOC_RE = /^(\d*)<<(-?)\s*([^<]*)$/u;
const WHITESPACE_RE = /[\t\v\f\r ]+/u;
const DIRECTIVE_RE = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/u;
const VALID_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

class Directives {
  escapeToken = '\\';
  continuation = Directives.continuationFor('\\');
  readonly seen: Record<string, string> = {};
  private done = false;

  static continuationFor(token: string): RegExp {
    const t = token === '\\' ? '\\\\' : token;
    return new RegExp(`([^${t}])${t}[ \\t]*$|^${t}[ \\t]*$`, 'u');
  }

  /** Looks at a line for a directive; directives stop at the first line that is not one. */
  check(line: string): boolean {
    if (this.done) return false;
    if (!line.startsWith('#')) {
      this.done = true;
      return false;
    }
    const m = DIRECTIVE_RE.exec(line.slice(1).replace(/^\s+/u, ''));
    const key = m?.[1]?.toLowerCase();
    if (!m || !key || !VALID_DIRECTIVES.has(key)) {
      this.done = true;
      return false;
    }
    if (key in this.seen) throw new InvalidArgumentError(`only one ${key} parser directive can be used`);
    const value = m[2]!;
    this.seen[key] = value;
    if (key === 'escape') {
      if (value !== '`' && value !== '\\') throw new InvalidArgumentError(`invalid escape token '${value}' does not match \` or \\`);
      this.escapeToken = value;
      this.continuation = Directives.continuationFor(value);
    }
    return true;
  }
}

function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/u, '');
}

function isComment(line: string): boolean {
  return /^\s*#/u.test(line);
}

/** Splits into lines keeping their endings, as the frontend's scanner does. */
function splitLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const i = text.indexOf('\n', start);
    if (i < 0) {
      if (start < text.length) out.push(text.slice(start));
      return out;
    }
    out.push(text.slice(start, i + 1));
    start = i + 1;
  }
}

/** Words of a statement: whitespace-separated, quotes and escapes kept (they are removed at expansion). */
export function parseWords(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOk = false;
  let buf = '';
  for (let pos = 0; pos <= chars.length; pos++) {
    const ch = chars[pos] ?? '';
    const end = pos === chars.length;
    if (phase === 'spaces') {
      if (end) break;
      if (/\s/u.test(ch)) continue;
      phase = 'word';
    }
    if (end) {
      if (blankOk || buf.length > 0) words.push(buf);
      break;
    }
    if (phase === 'word') {
      if (/\s/u.test(ch)) {
        phase = 'spaces';
        if (blankOk || buf.length > 0) words.push(buf);
        buf = '';
        blankOk = false;
        continue;
      }
      if (ch === '\'' || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
      }
      if (ch === escapeToken) {
        if (pos + 1 === chars.length) continue; // an escape at the end of the line is dropped
        buf += ch;
        pos++;
        buf += chars[pos]!;
        continue;
      }
      buf += ch;
      continue;
    }
    // In quotes.
    if (ch === quote) phase = 'word';
    if (ch === escapeToken && quote !== '\'') {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      buf += ch;
      pos++;
      buf += chars[pos]!;
      continue;
    }
    buf += ch;
  }
  return words;
}

/** Splits off leading `--flag[=value]` words (quotes and escapes processed); `--` ends the flags. */
function extractFlags(line: string, escapeToken: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOk = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const ch = line[pos] ?? '';
    const end = pos === line.length;
    if (phase === 'spaces') {
      if (end) break;
      if (/\s/u.test(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { rest: line.slice(pos), flags };
      phase = 'word';
    }
    if (end) {
      if (word !== '--' && (blankOk || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/u.test(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(pos), flags };
        if (blankOk || word.length > 0) flags.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === '\'' || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
        continue;
      }
      let c = ch;
      if (c === escapeToken) {
        if (pos + 1 === line.length) continue;
        pos++;
        c = line[pos]!;
      }
      word += c;
      continue;
    }
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    let c = ch;
    if (c === escapeToken) {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      c = line[pos]!;
    }
    word += c;
  }
  return { rest: '', flags };
}

class JsonArgsError extends Error {}

/** `["a","b"]` → ['a','b']; undefined when the text is not a JSON array (shell form). */
function parseJsonArray(rest: string): string[] | undefined {
  const s = rest.replace(/^\s+/u, '');
  if (!s.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  for (const e of v) {
    if (typeof e !== 'string') throw new JsonArgsError('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return v as string[];
}

interface Parsed {
  args: string[];
  json: boolean;
  sub?: Node;
}

function whitespaceList(rest: string): string[] {
  return rest === '' ? [] : rest.split(WHITESPACE_RE);
}

function nameVal(rest: string, key: string, escapeToken: string): string[] {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const m = WHITESPACE_RE.exec(rest);
    if (!m) throw new InvalidArgumentError(`${key} must have two arguments`);
    return [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''];
  }
  const out: string[] = [];
  for (const w of words) {
    const i = w.indexOf('=');
    if (i < 0) throw new InvalidArgumentError(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    out.push(w.slice(0, i), w.slice(i + 1), '=');
  }
  return out;
}

function parseArgs(cmd: string, rest: string, d: Directives): Parsed {
  const maybeJson = (toList: boolean): Parsed => {
    const j = parseJsonArray(rest);
    if (j) return { args: j, json: true };
    if (toList) return { args: whitespaceList(rest), json: false };
    return { args: rest === '' ? [] : [rest], json: false };
  };
  switch (cmd) {
    case 'add':
    case 'copy':
    case 'volume':
      return maybeJson(true);
    case 'cmd':
    case 'entrypoint':
    case 'run':
    case 'shell':
      return rest === '' ? { args: [], json: false } : maybeJson(false);
    case 'arg':
      return { args: parseWords(rest, d.escapeToken), json: false };
    case 'env':
      return { args: nameVal(rest, 'ENV', d.escapeToken), json: false };
    case 'label':
      return { args: nameVal(rest, 'LABEL', d.escapeToken), json: false };
    case 'expose':
    case 'from':
      return { args: whitespaceList(rest), json: false };
    case 'maintainer':
    case 'stopsignal':
    case 'user':
    case 'workdir':
      return { args: rest === '' ? [] : [rest], json: false };
    case 'healthcheck': {
      const m = /^(\S+)\s*/u.exec(rest);
      if (!m) return { args: [], json: false };
      const typ = m[1]!;
      const cmdRest = rest.slice(m[0].length);
      if (cmdRest === '') return { args: [typ], json: false };
      const j = parseJsonArray(cmdRest);
      if (j) return { args: [typ, ...j], json: true };
      return { args: [typ, cmdRest], json: false };
    }
    case 'onbuild': {
      if (rest === '') return { args: [], json: false };
      const sub = nodeFromLine(rest, d, []);
      return { args: [sub.value, ...sub.args], json: false, sub };
    }
    default:
      return { args: [], json: false };
  }
}

function nodeFromLine(line: string, d: Directives, comments: string[]): Node {
  const trimmed = line.trim();
  const m = WHITESPACE_RE.exec(trimmed);
  const cmd = m ? trimmed.slice(0, m.index) : trimmed;
  let rest = '';
  let flags: string[] = [];
  if (m) {
    const x = extractFlags(trimmed.slice(m.index + m[0].length), d.escapeToken);
    rest = x.rest.trim();
    flags = x.flags;
  }
  const p = parseArgs(cmd.toLowerCase(), rest, d);
  return {
    value: cmd, original: line, flags, args: p.args, json: p.json, heredocs: [], ...(p.sub ? { sub: p.sub } : {}),
    startLine: 0, endLine: 0, comments,
  };
}

function canContainHeredoc(n: Node): boolean {
  const target = n.value.toLowerCase() === 'onbuild' && n.sub ? n.sub : n;
  return HEREDOC_INSTRUCTIONS.has(target.value.toLowerCase()) && !target.json;
}

/** A heredoc introducer (`<<EOF`, `<<-"EOT"`, `3<<X`) → its terminator and options; undefined when `word` is not one. */
export function parseHeredoc(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = HEREDOC_RE.exec(word);
  if (!m || m[3] === '') return undefined;
  const rest = m[3]!;
  const plain = new ShellLex('\\', { skipUnsetEnv: true }).processWords(rest, EMPTY_ENV);
  if (plain.length !== 1) return undefined;
  const raw = new ShellLex('\\', { skipUnsetEnv: true, rawQuotes: true }).processWords(rest, EMPTY_ENV);
  if (raw.length !== 1) throw new InvalidArgumentError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quotes = (s: string) => (s.match(/['"]/gu) ?? []).length;
  return { name: plain[0]!, fileDescriptor: m[1] ? Number(m[1]) : 0, expand: quotes(plain[0]!) === quotes(raw[0]!), chomp: m[2] === '-' };
}

function heredocsFromLine(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = new ShellLex('\\', { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).processWords(line, EMPTY_ENV);
  } catch {
    words = [];
  }
  const out: Omit<Heredoc, 'content'>[] = [];
  for (const w of words) {
    const h = parseHeredoc(w);
    if (h) out.push(h);
  }
  return out;
}

/** Removes leading tabs from every line (`<<-`). */
export function chompHeredocContent(s: string): string {
  return s.replace(/^\t+/gmu, '');
}

/**
 * Parses a Dockerfile. Throws DockerfileSyntaxError for what the parser itself rejects (directives, JSON arrays
 * of non-strings, unterminated heredocs, an empty file); the instructions' own rules are checked later.
 */
export function parseDockerfile(input: string | Buffer): ParseResult {
  let text = typeof input === 'string' ? input : input.toString('utf8');
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const lines = splitLines(text);
  const d = new Directives();
  const nodes: Node[] = [];
  const warnings: string[] = [];
  let comments: string[] = [];
  let current = 0;
  let i = 0;
  const syntaxError = (err: unknown, line: number): DockerfileSyntaxError =>
    err instanceof DockerfileSyntaxError ? err : new DockerfileSyntaxError((err as Error).message, line);
  /** Trims the newline (and, for a first line, leading whitespace), looks for a directive, drops comments. */
  const processLine = (raw: string, stripLeft: boolean): { text: string; directive: boolean } => {
    let t = trimNewline(raw);
    if (stripLeft) t = t.replace(/^\s+/u, '');
    const directive = d.check(t);
    return { text: isComment(t) ? '' : t, directive };
  };

  while (i < lines.length) {
    const raw = lines[i++]!;
    if (isComment(raw)) {
      const c = raw.replace(/^\s*#/u, '').trim();
      if (c === '') comments = [];
      else comments.push(c);
    }
    let first: { text: string; directive: boolean };
    try {
      first = processLine(raw, true);
    } catch (err) {
      throw syntaxError(err, current + 1);
    }
    if (first.directive) comments.pop();
    current++;
    const startLine = current;
    let buf = first.text;
    let endOfLine = true;
    if (d.continuation.test(buf)) {
      buf = buf.replace(d.continuation, '$1');
      endOfLine = false;
    }
    if (endOfLine && buf.length === 0) continue;
    let hasEmptyContinuation = false;
    while (!endOfLine && i < lines.length) {
      const next = lines[i++]!;
      let p: { text: string; directive: boolean };
      try {
        p = processLine(next, false);
      } catch (err) {
        throw syntaxError(err, current + 1);
      }
      current++;
      if (isComment(next)) continue;
      if (p.text.replace(/^\s+/u, '').length === 0) {
        hasEmptyContinuation = true;
        continue;
      }
      let t = p.text;
      if (d.continuation.test(t)) t = t.replace(d.continuation, '$1');
      else endOfLine = true;
      buf += t;
    }
    if (hasEmptyContinuation) warnings.push(`Empty continuation line found in: ${buf}`);

    let node: Node;
    try {
      node = nodeFromLine(buf, d, comments);
    } catch (err) {
      throw syntaxError(err, startLine);
    }
    if (canContainHeredoc(node) && buf.includes('<<')) {
      let docs: Omit<Heredoc, 'content'>[];
      try {
        docs = heredocsFromLine(buf);
      } catch (err) {
        throw syntaxError(err, startLine);
      }
      for (const h of docs) {
        let content = '';
        let terminated = false;
        while (i < lines.length) {
          const l = lines[i++]!;
          current++;
          let candidate = trimNewline(l);
          if (h.chomp) candidate = candidate.replace(/^\t+/u, '');
          if (candidate === h.name) {
            terminated = true;
            break;
          }
          content += l;
        }
        if (!terminated) throw new DockerfileSyntaxError('unterminated heredoc', startLine);
        node.heredocs.push({ ...h, content });
      }
    }
    node.startLine = startLine;
    node.endLine = current;
    nodes.push(node);
    comments = [];
  }
  if (nodes.length === 0) throw new DockerfileSyntaxError('file with no instructions', current);
  return { nodes, escapeToken: d.escapeToken, directives: { ...d.seen }, warnings };
}
