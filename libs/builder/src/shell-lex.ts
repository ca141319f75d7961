/**
 * Shell-style word processing as the Dockerfile frontend does it: quotes (`'…'`, `"…"`), the escape token
 * (`\` or `` ` ``), and variable expansion — `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
 * `${VAR+word}`, `${VAR:?msg}`, `${VAR?msg}`, `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`,
 * `${VAR/pat/repl}`, `${VAR//pat/repl}`. `processWord` keeps spaces; `processWords` splits the result into
 * words after expansion (quoted spaces stay inside words), which only EXPOSE and heredoc detection use.
 */
import { InvalidArgumentError } from '@berth/errdefs';

/** Variables visible to a substitution. */
export interface EnvGetter {
  get(name: string): string | undefined;
  keys(): string[];
}

/** `['A=1', 'B=2']` → an EnvGetter; a later entry for the same name wins. */
export function envFromList(env: readonly string[]): EnvGetter {
  const map = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    if (i < 0) map.set(e, '');
    else map.set(e.slice(0, i), e.slice(i + 1));
  }
  return { get: (n) => map.get(n), keys: () => [...map.keys()] };
}

export const EMPTY_ENV: EnvGetter = { get: () => undefined, keys: () => [] };

export interface LexOptions {
  /** Keep quote characters in the result (heredoc detection compares both forms). */
  rawQuotes?: boolean;
  /** Keep escape tokens in the result. */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters. */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written (`$X`, `${X:-y}`). */
  skipUnsetEnv?: boolean;
}

export interface ProcessResult {
  result: string;
  words: string[];
  matched: Set<string>;
  unmatched: Set<string>;
}

const EOF = '';

class LexError extends Error {}

/** Words, split on unquoted whitespace as characters arrive. */
class Words {
  private buf = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch) && this.inWord) {
      if (this.buf.length !== 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else if (!isSpace(ch)) {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }

  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

function isSpace(ch: string): boolean {
  return /^\s$/u.test(ch);
}

function isDigit(ch: string): boolean {
  return /^\p{Nd}$/u.test(ch);
}

function isLetter(ch: string): boolean {
  return /^\p{L}$/u.test(ch);
}

/** Shell special parameters (`$@`, `$*`, `$#`, `$?`, `$-`, `$$`, `$!`, `$0`). */
function isSpecialParam(ch: string): boolean {
  return '@*#?-$!0'.includes(ch) && ch !== '';
}

class Scanner {
  private readonly chars: string[];
  private pos = 0;

  constructor(s: string) {
    this.chars = Array.from(s);
  }

  peek(): string {
    return this.chars[this.pos] ?? EOF;
  }

  next(): string {
    const ch = this.chars[this.pos];
    if (ch === undefined) return EOF;
    this.pos++;
    return ch;
  }
}

class ShellWord {
  private readonly scanner: Scanner;
  private readonly env: EnvGetter;
  private readonly escape: string;
  private readonly opts: LexOptions;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(word: string, env: EnvGetter, escape: string, opts: LexOptions) {
    this.scanner = new Scanner(word);
    this.env = env;
    this.escape = escape;
    this.opts = opts;
    this.rawEscapes = opts.rawEscapes === true;
  }

  /** Processes until `stop` (consumed) or the end; returns the text and its words. */
  processStopOn(stop: string, rawEscapes: boolean): { text: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new Words();
      for (;;) {
        const ch = this.scanner.peek();
        if (ch === EOF) break;
        if (stop !== EOF && ch === stop) {
          this.scanner.next();
          return { text: result, words: words.finish() };
        }
        let special: (() => string) | undefined;
        if (ch === '$') special = () => this.processDollar();
        else if (ch === '<') special = () => this.processPossibleHeredoc();
        else if (!this.opts.skipProcessQuotes && ch === '\'') special = () => this.processSingleQuote();
        else if (!this.opts.skipProcessQuotes && ch === '"') special = () => this.processDoubleQuote();
        if (special) {
          const tmp = special();
          result += tmp;
          if (ch === '$') words.addString(tmp);
          else words.addRawString(tmp);
          continue;
        }
        let c = this.scanner.next();
        if (c === this.escape) {
          if (this.rawEscapes) {
            words.addRawChar(c);
            result += c;
          }
          c = this.scanner.next();
          if (c === EOF) break;
          words.addRawChar(c);
        } else {
          words.addChar(c);
        }
        result += c;
      }
      if (stop !== EOF) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return { text: result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    let result = '';
    const open = this.scanner.next();
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const ch = this.scanner.next();
      if (ch === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === '\'') {
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    let result = '';
    const open = this.scanner.next();
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const p = this.scanner.peek();
      if (p === EOF) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        const ch = this.scanner.next();
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      if (p === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.scanner.next();
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const n = this.scanner.peek();
        if (n === EOF) continue; // an escape at the end of the word is dropped
        if (n === '"' || n === '$' || n === this.escape) ch = this.scanner.next();
      }
      result += ch;
    }
  }

  private getEnv(name: string): string | undefined {
    const v = this.env.get(name);
    if (v !== undefined) this.matched.add(name);
    else this.unmatched.add(name);
    return v;
  }

  private processName(): string {
    let name = '';
    for (;;) {
      const ch = this.scanner.peek();
      if (ch === EOF) break;
      if (name.length === 0 && isDigit(ch)) {
        while (this.scanner.peek() !== EOF && isDigit(this.scanner.peek())) name += this.scanner.next();
        return name;
      }
      if (name.length === 0 && isSpecialParam(ch)) return this.scanner.next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.scanner.next();
    }
    return name;
  }

  private processDollar(): string {
    this.scanner.next();
    if (this.scanner.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const v = this.getEnv(name);
      if (v === undefined && this.opts.skipUnsetEnv) return `$${name}`;
      return v ?? '';
    }
    this.scanner.next();
    const first = this.scanner.peek();
    if (first === EOF) throw new LexError('syntax error: missing \'}\'');
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.scanner.next();
    let chs = ch;
    let nullIsUnset = false;
    if (ch === '}') {
      const v = this.getEnv(name);
      if (v === undefined && this.opts.skipUnsetEnv) return `\${${name}}`;
      return v ?? '';
    }
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.scanner.next();
      chs += ch;
    }
    if (ch === EOF) throw new LexError('syntax error: missing \'}\'');
    if (ch === '/' && !nullIsUnset) return this.processReplace(name);
    if (!['+', '-', '?', '#', '%'].includes(ch) || ch === EOF) {
      throw new LexError(`unsupported modifier (${chs}) in substitution`);
    }
    const patternOp = ch === '#' || ch === '%';
    if (nullIsUnset && patternOp) throw new LexError(`unsupported modifier (${chs}) in substitution`);
    let word: string;
    try {
      word = this.processStopOn('}', patternOp).text;
    } catch (err) {
      if (this.scanner.peek() === EOF) throw new LexError('syntax error: missing \'}\'');
      throw err;
    }
    const value = this.getEnv(name);
    const set = value !== undefined;
    if (this.opts.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;
    const empty = !set || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return empty ? word : value!;
      case '+':
        return empty ? '' : word;
      case '?':
        if (!set) throw new LexError(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new LexError(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
        return value;
      default: {
        // %/# remove the shortest match, %%/## the longest.
        let greedy = false;
        if (word.length > 0 && word[0] === ch) {
          greedy = true;
          word = word.slice(1);
        }
        return ch === '%' ? trimSuffix(word, value ?? '', greedy) : trimPrefix(word, value ?? '', greedy);
      }
    }
  }

  private processReplace(name: string): string {
    const all = this.scanner.peek() === '/';
    if (all) this.scanner.next();
    let pattern: string;
    try {
      pattern = this.processStopOn('/', true).text;
    } catch (err) {
      if (this.scanner.peek() === EOF) throw new LexError('syntax error: missing \'/\' in ${}');
      throw err;
    }
    let replacement: string;
    try {
      replacement = this.processStopOn('}', true).text;
    } catch (err) {
      if (this.scanner.peek() === EOF) throw new LexError('syntax error: missing \'}\'');
      throw err;
    }
    const value = this.getEnv(name);
    if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}/${pattern}/${replacement}}`;
    const re = shellPatternToRegExp(pattern, true, false, all ? 'gu' : 'u');
    const v = value ?? '';
    if (all) return v.replace(re, () => replacement);
    const m = re.exec(v);
    if (!m) return v;
    return v.slice(0, m.index) + replacement + v.slice(m.index + m[0].length);
  }

  private processPossibleHeredoc(): string {
    this.scanner.next();
    if (this.scanner.peek() !== '<') return '<';
    this.scanner.next();
    let space = '';
    while ([' ', '\t', '\r'].includes(this.scanner.peek())) space += this.scanner.next();
    return `<<${space}`;
  }
}

/**
 * A shell pattern (`?` one character, `*` any string; no bracket expressions) as a regular expression.
 * Non-greedy `*` finds the shortest match.
 */
export function shellPatternToRegExp(pattern: string, greedy: boolean, anchored: boolean, flags = 'u'): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i]!;
    if (tok === '*') {
      out += greedy ? '[\\s\\S]*' : '[\\s\\S]*?';
      continue;
    }
    if (tok === '?') {
      out += '[\\s\\S]';
      continue;
    }
    if (tok === '\\') {
      const n = chars[i + 1];
      // `}` and `/` are escaped inside ${} but the escape is not part of the pattern.
      if (n === '}' || n === '/') continue;
      i++;
      if (n !== '*' && n !== '?' && n !== '\\') throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ''}'`);
      out += `\\${n}`;
      continue;
    }
    out += /[[\]{}.+()|^$]/.test(tok) ? `\\${tok}` : tok;
  }
  return new RegExp(out, flags);
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Reverses a pattern keeping escapes before the character they escape (`a\*c` → `c\*a`). */
function reversePattern(pattern: string): string {
  const p = Array.from(pattern);
  const out: string[] = new Array<string>(p.length);
  const last = p.length - 1;
  for (let i = 0; i <= last;) {
    const tok = p[i]!;
    const o = last - i;
    if (tok === '\\' && i !== last) {
      out[o - 1] = tok;
      out[o] = p[i + 1]!;
      i += 2;
    } else {
      out[o] = tok;
      i++;
    }
  }
  return out.join('');
}

function reverse(s: string): string {
  return Array.from(s).reverse().join('');
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // Regular expressions find leftmost matches: reverse both to find the shortest/longest rightmost one.
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

/** The Dockerfile word processor for one escape token. */
export class ShellLex {
  readonly escapeToken: string;
  readonly options: LexOptions;

  constructor(escapeToken = '\\', options: LexOptions = {}) {
    this.escapeToken = escapeToken;
    this.options = options;
  }

  process(word: string, env: EnvGetter): ProcessResult {
    const sw = new ShellWord(word, env, this.escapeToken, this.options);
    try {
      const { text, words } = sw.processStopOn(EOF, this.options.rawEscapes === true);
      return { result: text, words, matched: sw.matched, unmatched: sw.unmatched };
    } catch (err) {
      if (err instanceof LexError) throw new InvalidArgumentError(`failed to process ${JSON.stringify(word)}: ${err.message}`);
      throw err;
    }
  }

  /** Expands variables and removes quotes; spaces between words are kept. */
  processWord(word: string, env: EnvGetter): string {
    return this.process(word, env).result;
  }

  /** Expands, then splits into words (quoted whitespace stays in its word). */
  processWords(word: string, env: EnvGetter): string[] {
    return this.process(word, env).words;
  }
}
