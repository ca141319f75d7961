// Lexer for Go's text/template syntax: text, `{{ }}` actions with `{{-`/`-}}` trimming and `{{/* */}}`
// comments; inside actions: fields, variables, identifiers, strings, raw strings, chars, numbers, `|`,
// parentheses, `:=`, `=`, `,`.

export type TokenKind =
  | 'text' | 'left' | 'right' | 'field' | 'variable' | 'identifier' | 'keyword' | 'string' | 'rawstring' | 'char'
  | 'number' | 'bool' | 'nil' | 'dot' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'space' | 'eof';

export interface Token {
  kind: TokenKind;
  value: string;
  line: number;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export function lex(input: string, name = ''): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;
  const addLines = (n: number) => {
    line += n;
  };
  const fail = (msg: string): never => {
    throw new TemplateError(`template: ${name}:${line}: ${msg}`);
  };
  while (pos < input.length) {
    const open = input.indexOf('{{', pos);
    let text = open < 0 ? input.slice(pos) : input.slice(pos, open);
    let trimNext = false;
    if (open >= 0 && input.startsWith('{{- ', open)) {
      text = text.replace(/[ \t\r\n]+$/, '');
    } else if (open >= 0 && /^\{\{-[\t\r\n]/.test(input.slice(open, open + 4))) {
      text = text.replace(/[ \t\r\n]+$/, '');
    }
    if (text) tokens.push({ kind: 'text', value: text, line });
    line += countLines(open < 0 ? input.slice(pos) : input.slice(pos, open));
    if (open < 0) break;
    pos = open + 2;
    if (/^-[ \t\r\n]/.test(input.slice(pos, pos + 2))) pos += 2;
    // comment
    const rest = input.slice(pos).replace(/^[ \t\r\n]*/, '');
    if (rest.startsWith('/*')) {
      const skipped = input.length - pos - rest.length;
      const endComment = input.indexOf('*/', pos + skipped + 2);
      if (endComment < 0) fail('unclosed comment');
      let after = endComment + 2;
      const m = /^[ \t\r\n]*(-[ \t\r\n]+)?\}\}/.exec(input.slice(after));
      if (!m) fail('comment ends before closing delimiter');
      if (m![1]) trimNext = true;
      line += countLines(input.slice(pos, after + m![0].length));
      after += m![0].length;
      pos = after;
      if (trimNext) pos = skipSpace(input, pos, addLines);
      continue;
    }
    tokens.push({ kind: 'left', value: '{{', line });
    // inside action
    for (;;) {
      if (pos >= input.length) fail('unclosed action');
      const c = input[pos]!;
      if (/[ \t\r\n]/.test(c)) {
        const start = pos;
        while (pos < input.length && /[ \t\r\n]/.test(input[pos]!)) pos++;
        const ws = input.slice(start, pos);
        if (input.startsWith('-}}', pos)) {
          pos += 3;
          line += countLines(ws);
          tokens.push({ kind: 'right', value: '}}', line });
          pos = skipSpace(input, pos, addLines);
          break;
        }
        line += countLines(ws);
        tokens.push({ kind: 'space', value: ws, line });
        continue;
      }
      if (input.startsWith('}}', pos)) {
        pos += 2;
        tokens.push({ kind: 'right', value: '}}', line });
        break;
      }
      if (c === '|') {
        tokens.push({ kind: 'pipe', value: c, line });
        pos++;
        continue;
      }
      if (c === '(') {
        tokens.push({ kind: 'lparen', value: c, line });
        pos++;
        continue;
      }
      if (c === ')') {
        tokens.push({ kind: 'rparen', value: c, line });
        pos++;
        continue;
      }
      if (c === ',') {
        tokens.push({ kind: 'comma', value: c, line });
        pos++;
        continue;
      }
      if (input.startsWith(':=', pos)) {
        tokens.push({ kind: 'declare', value: ':=', line });
        pos += 2;
        continue;
      }
      if (c === '=') {
        tokens.push({ kind: 'assign', value: '=', line });
        pos++;
        continue;
      }
      if (c === '"') {
        let i = pos + 1;
        while (i < input.length && input[i] !== '"') {
          if (input[i] === '\\') i++;
          if (input[i] === '\n') fail('unterminated quoted string');
          i++;
        }
        if (i >= input.length) fail('unterminated quoted string');
        tokens.push({ kind: 'string', value: input.slice(pos, i + 1), line });
        pos = i + 1;
        continue;
      }
      if (c === '`') {
        const end = input.indexOf('`', pos + 1);
        if (end < 0) fail('unterminated raw quoted string');
        tokens.push({ kind: 'rawstring', value: input.slice(pos + 1, end), line });
        line += countLines(input.slice(pos, end));
        pos = end + 1;
        continue;
      }
      if (c === '\'') {
        let i = pos + 1;
        while (i < input.length && input[i] !== '\'') {
          if (input[i] === '\\') i++;
          i++;
        }
        tokens.push({ kind: 'char', value: input.slice(pos, i + 1), line });
        pos = i + 1;
        continue;
      }
      if (c === '$') {
        const m = /^\$[A-Za-z0-9_]*/.exec(input.slice(pos))!;
        tokens.push({ kind: 'variable', value: m[0], line });
        pos += m[0].length;
        continue;
      }
      if (c === '.') {
        const m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(pos));
        if (m) {
          tokens.push({ kind: 'field', value: m[0].slice(1), line });
          pos += m[0].length;
          continue;
        }
        if (/^\.\d/.test(input.slice(pos))) {
          // a number like .5
        } else {
          tokens.push({ kind: 'dot', value: '.', line });
          pos++;
          continue;
        }
      }
      const num = /^[-+]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]+|(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?)/.exec(input.slice(pos));
      if ((/[0-9]/.test(c) || ((c === '-' || c === '+' || c === '.') && /[0-9.]/.test(input[pos + 1] ?? ''))) && num && num[0] !== '') {
        tokens.push({ kind: 'number', value: num[0], line });
        pos += num[0].length;
        continue;
      }
      const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(pos));
      if (id) {
        const w = id[0];
        const kind: TokenKind = KEYWORDS.has(w) ? 'keyword' : w === 'true' || w === 'false' ? 'bool' : w === 'nil' ? 'nil' : 'identifier';
        tokens.push({ kind, value: w, line });
        pos += w.length;
        continue;
      }
      fail(`unexpected ${JSON.stringify(c)} in command`);
    }
  }
  tokens.push({ kind: 'eof', value: '', line });
  return tokens;
}

function countLines(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === '\n') n++;
  return n;
}

function skipSpace(input: string, pos: number, onLines: (n: number) => void): number {
  const start = pos;
  while (pos < input.length && /[ \t\r\n]/.test(input[pos]!)) pos++;
  onLines(countLines(input.slice(start, pos)));
  return pos;
}
