// Parser for Go's text/template: builds the tree the executor walks.
import { lex, TemplateError, type Token } from './lexer.ts';

export type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pipe: Pipeline; line: number }
  | { type: 'if' | 'with'; pipe: Pipeline; list: Node[]; elseList: Node[] | undefined; line: number }
  | { type: 'range'; pipe: Pipeline; list: Node[]; elseList: Node[] | undefined; line: number }
  | { type: 'break' | 'continue'; line: number };

export interface Pipeline {
  decl: string[];
  /** `=` (assign to existing variables) rather than `:=`. */
  isAssign: boolean;
  cmds: Command[];
  /** Source text, for error messages ("executing at <.Foo>"). */
  text: string;
}

export interface Command {
  args: Operand[];
}

export type Operand =
  | { type: 'field'; chain: string[]; receiver?: Operand }
  | { type: 'variable'; name: string; chain: string[] }
  | { type: 'dot' }
  | { type: 'identifier'; name: string }
  | { type: 'string'; value: string }
  | { type: 'number'; value: number; text: string }
  | { type: 'bool'; value: boolean }
  | { type: 'nil' }
  | { type: 'pipe'; pipe: Pipeline; chain: string[] };

export function parseTemplate(input: string, funcs: ReadonlySet<string>, name = ''): Node[] {
  const p = new Parser(lex(input, name), funcs, name);
  return p.parseAll();
}

class Parser {
  private i = 0;
  private readonly tokens: Token[];
  private readonly funcs: ReadonlySet<string>;
  private readonly name: string;
  private vars: string[][] = [['$']];
  private rangeDepth = 0;

  constructor(tokens: Token[], funcs: ReadonlySet<string>, name: string) {
    this.tokens = tokens;
    this.funcs = funcs;
    this.name = name;
  }

  parseAll(): Node[] {
    const { list, end } = this.parseList();
    if (end !== 'eof') this.fail(`unexpected {{${end}}}`);
    return list;
  }

  private fail(msg: string): never {
    throw new TemplateError(`template: ${this.name}:${this.peek().line}: ${msg}`);
  }

  private peek(): Token {
    return this.tokens[Math.min(this.i, this.tokens.length - 1)]!;
  }

  private next(): Token {
    return this.tokens[this.i++]!;
  }

  private peekNonSpace(): Token {
    while (this.peek().kind === 'space') this.i++;
    return this.peek();
  }

  private nextNonSpace(): Token {
    this.peekNonSpace();
    return this.next();
  }

  /** Parses nodes until `{{end}}`, `{{else…}}` or the end of input; returns which one stopped it. */
  private parseList(): { list: Node[]; end: 'eof' | 'end' | 'else' } {
    const list: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.kind === 'eof') return { list, end: 'eof' };
      if (t.kind === 'text') {
        list.push({ type: 'text', text: t.value });
        continue;
      }
      // t is 'left'
      const k = this.peekNonSpace();
      if (k.kind === 'keyword') {
        this.next();
        switch (k.value) {
          case 'end':
            this.expectRight('end');
            return { list, end: 'end' };
          case 'else':
            return { list, end: 'else' };
          case 'if':
          case 'with':
          case 'range':
            list.push(this.parseControl(k.value, k.line));
            continue;
          case 'break':
          case 'continue':
            if (this.rangeDepth === 0) this.fail(`{{${k.value}}} outside {{range}}`);
            this.expectRight(k.value);
            list.push({ type: k.value, line: k.line });
            continue;
          default:
            this.fail(`{{${k.value}}} is not supported`);
        }
      }
      const pipe = this.parsePipeline('command', true);
      list.push({ type: 'action', pipe, line: t.line });
    }
  }

  private expectRight(context: string): void {
    const t = this.nextNonSpace();
    if (t.kind !== 'right') this.fail(`unexpected ${describe(t)} in ${context}`);
  }

  private parseControl(kind: 'if' | 'with' | 'range', line: number): Node {
    this.vars.push([]);
    const pipe = this.parsePipeline(kind, true);
    if (kind === 'range') this.rangeDepth++;
    const body = this.parseList();
    if (kind === 'range') this.rangeDepth--;
    let elseList: Node[] | undefined;
    if (body.end === 'else') {
      // `{{else if …}}` / `{{else with …}}` chain into a nested node
      const t = this.peekNonSpace();
      if ((kind === 'if' && t.kind === 'keyword' && t.value === 'if') || (kind === 'with' && t.kind === 'keyword' && t.value === 'with')) {
        this.next();
        const nested = this.parseControl(kind, t.line);
        elseList = [nested];
        this.vars.pop();
        return { type: kind, pipe, list: body.list, elseList, line };
      }
      this.expectRight('else');
      const rest = this.parseList();
      if (rest.end !== 'end') this.fail(`expected end; found ${rest.end === 'else' ? '{{else}}' : 'EOF'}`);
      elseList = rest.list;
    } else if (body.end !== 'end') {
      this.fail(`unexpected EOF`);
    }
    this.vars.pop();
    return { type: kind, pipe, list: body.list, elseList, line };
  }

  private parsePipeline(context: string, toRight: boolean): Pipeline {
    const start = this.i;
    const decl: string[] = [];
    let isAssign = false;
    // declarations: `$x :=`, `$i, $e :=`, `$x =`
    const save = this.i;
    const v = this.peekNonSpace();
    if (v.kind === 'variable') {
      this.next();
      const after = this.peekNonSpace();
      if (after.kind === 'declare' || after.kind === 'assign') {
        this.next();
        decl.push(v.value);
        isAssign = after.kind === 'assign';
      } else if (after.kind === 'comma' && (context === 'range')) {
        this.next();
        const v2 = this.nextNonSpace();
        if (v2.kind !== 'variable') this.fail(`range can only initialize variables`);
        const d = this.nextNonSpace();
        if (d.kind !== 'declare' && d.kind !== 'assign') this.fail(`expected := or = in range`);
        decl.push(v.value, v2.value);
        isAssign = d.kind === 'assign';
      } else {
        this.i = save;
      }
    }
    if (!isAssign) for (const d of decl) this.vars[this.vars.length - 1]!.push(d);
    const cmds: Command[] = [];
    for (;;) {
      const t = this.peekNonSpace();
      if ((toRight && t.kind === 'right') || (!toRight && t.kind === 'rparen')) {
        this.next();
        break;
      }
      if (t.kind === 'eof') this.fail(`unclosed action`);
      cmds.push(this.parseCommand());
      const sep = this.peekNonSpace();
      if (sep.kind === 'pipe') {
        this.next();
        continue;
      }
    }
    if (cmds.length === 0) this.fail(`missing value for ${context}`);
    const text = this.tokens.slice(start, this.i - 1).map((t) => (t.kind === 'field' ? `.${t.value}` : t.value)).join('').trim();
    return { decl, isAssign, cmds, text };
  }

  private parseCommand(): Command {
    const args: Operand[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'space') {
        this.next();
        continue;
      }
      if (t.kind === 'right' || t.kind === 'rparen' || t.kind === 'pipe') break;
      if (t.kind === 'eof') this.fail('unclosed action');
      args.push(this.parseOperand());
      const after = this.peek();
      if (after.kind !== 'space' && after.kind !== 'right' && after.kind !== 'rparen' && after.kind !== 'pipe') {
        this.fail(`unexpected ${describe(after)} in operand`);
      }
    }
    if (args.length === 0) this.fail('empty command');
    return { args };
  }

  private parseOperand(): Operand {
    const t = this.next();
    let op: Operand;
    switch (t.kind) {
      case 'field': {
        const chain = [t.value];
        while (this.peek().kind === 'field') chain.push(this.next().value);
        return { type: 'field', chain };
      }
      case 'variable': {
        if (!this.vars.some((scope) => scope.includes(t.value))) this.fail(`undefined variable "${t.value}"`);
        const chain: string[] = [];
        while (this.peek().kind === 'field') chain.push(this.next().value);
        return { type: 'variable', name: t.value, chain };
      }
      case 'dot':
        op = { type: 'dot' };
        break;
      case 'identifier':
        if (!this.funcs.has(t.value)) this.fail(`function "${t.value}" not defined`);
        return { type: 'identifier', name: t.value };
      case 'string':
        return { type: 'string', value: unquote(t.value, () => this.fail(`bad string ${t.value}`)) };
      case 'rawstring':
        return { type: 'string', value: t.value };
      case 'char': {
        const s = unquote(`"${t.value.slice(1, -1).replace(/"/g, '\\"')}"`, () => this.fail(`bad char ${t.value}`));
        return { type: 'number', value: s.codePointAt(0) ?? 0, text: t.value };
      }
      case 'number': {
        const n = Number(t.value.replace(/_/g, ''));
        if (Number.isNaN(n)) this.fail(`bad number syntax: ${JSON.stringify(t.value)}`);
        return { type: 'number', value: n, text: t.value };
      }
      case 'bool':
        return { type: 'bool', value: t.value === 'true' };
      case 'nil':
        return { type: 'nil' };
      case 'lparen': {
        this.vars.push([]);
        const pipe = this.parsePipeline('parenthesized pipeline', false);
        this.vars.pop();
        const chain: string[] = [];
        while (this.peek().kind === 'field') chain.push(this.next().value);
        return { type: 'pipe', pipe, chain };
      }
      default:
        this.fail(`unexpected ${describe(t)} in operand`);
    }
    return op;
  }
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'EOF';
  if (t.kind === 'right') return '"}}"';
  return JSON.stringify(t.value);
}

/** Go string literal unquoting (the escapes Go accepts). */
function unquote(lit: string, fail: () => never): string {
  try {
    return JSON.parse(lit.replace(/\\([abfnrtv'\\"])/g, (_m, c: string) => {
      const map: Record<string, string> = { 'a': '\\u0007', 'b': '\\b', 'f': '\\f', 'n': '\\n', 'r': '\\r', 't': '\\t', 'v': '\\u000b', '\'': '\'', '\\': '\\\\', '"': '\\"' };
      return map[c]!;
    }).replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1').replace(/\\U([0-9a-fA-F]{8})/g, (_m, h: string) => {
      const cp = parseInt(h, 16);
      return JSON.stringify(String.fromCodePoint(cp)).slice(1, -1);
    })) as string;
  } catch {
    return fail();
  }
}
