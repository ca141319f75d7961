// Executes a parsed Go template against JavaScript data. Fields resolve to properties, or to methods called
// with the command's arguments (`{{.Label "x"}}`); a missing key yields `<no value>` like a Go map.
import { FUNCS, type TemplateFunc } from './funcs.ts';
import { TemplateError } from './lexer.ts';
import { parseTemplate, type Command, type Node, type Operand, type Pipeline } from './parse.ts';
import { NIL_MAP, NIL_SLICE, NO_VALUE, STRICT, isTrue, nullFor, printValue } from './print.ts';

class BreakSignal {}
class ContinueSignal {}
const NONE: unique symbol = Symbol('no final value');

/** A compiled template: `execute(data)` renders it. */
export class Template {
  private readonly nodes: Node[];
  private readonly funcs: Record<string, TemplateFunc>;

  constructor(source: string, extraFuncs: Record<string, TemplateFunc> = {}) {
    this.funcs = { ...FUNCS, ...extraFuncs };
    this.nodes = parseTemplate(source, new Set(Object.keys(this.funcs)));
  }

  execute(data: unknown): string {
    const ex = new Executor(this.funcs, data);
    ex.walkList(data, this.nodes);
    return ex.out;
  }
}

class Executor {
  out = '';
  private vars: Array<[string, unknown]>;
  private readonly funcs: Record<string, TemplateFunc>;

  constructor(funcs: Record<string, TemplateFunc>, root: unknown) {
    this.funcs = funcs;
    this.vars = [['$', root]];
  }

  walkList(dot: unknown, list: Node[]): void {
    for (const n of list) this.walk(dot, n);
  }

  private walk(dot: unknown, node: Node): void {
    switch (node.type) {
      case 'text':
        this.out += node.text;
        return;
      case 'action': {
        const v = this.evalPipeline(dot, node.pipe, node.line);
        if (node.pipe.decl.length === 0) this.out += printValue(v);
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, node.pipe, node.line);
        if (isTrue(v)) this.walkList(node.type === 'with' ? v : dot, node.list);
        else if (node.elseList) this.walkList(dot, node.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
    }
  }

  private walkRange(dot: unknown, node: Extract<Node, { type: 'range' }>): void {
    const mark = this.vars.length;
    const pipe = { ...node.pipe, decl: [] as string[] };
    const v = this.evalPipeline(dot, pipe, node.line);
    const items: Array<[unknown, unknown]> = [];
    if (Array.isArray(v)) v.forEach((x, i) => items.push([i, x]));
    else if (v instanceof Map) for (const k of [...v.keys()].sort()) items.push([k, v.get(k)]);
    else if (typeof v === 'number' && Number.isInteger(v)) for (let i = 0; i < v; i++) items.push([i, i]);
    else if (v && typeof v === 'object') {
      for (const k of Object.keys(v).sort()) items.push([k, (v as Record<string, unknown>)[k]]);
    } else if (v !== null && v !== undefined && v !== NO_VALUE && v !== NIL_MAP && v !== NIL_SLICE) {
      throw this.error(node.line, node.pipe.text, `range can't iterate over ${printValue(v)}`);
    }
    if (items.length === 0) {
      if (node.elseList) this.walkList(dot, node.elseList);
      this.vars.length = mark;
      return;
    }
    for (const [k, x] of items) {
      this.vars.length = mark;
      const d = node.pipe.decl;
      if (d.length === 1) this.setVar(d[0]!, x, node.pipe.isAssign);
      if (d.length === 2) {
        this.setVar(d[0]!, k, node.pipe.isAssign);
        this.setVar(d[1]!, x, node.pipe.isAssign);
      }
      try {
        this.walkList(x, node.list);
      } catch (err) {
        if (err instanceof BreakSignal) break;
        if (err instanceof ContinueSignal) continue;
        throw err;
      }
    }
    this.vars.length = mark;
  }

  private setVar(name: string, value: unknown, assign: boolean): void {
    if (assign) {
      for (let i = this.vars.length - 1; i >= 0; i--) {
        if (this.vars[i]![0] === name) {
          this.vars[i]![1] = value;
          return;
        }
      }
    }
    this.vars.push([name, value]);
  }

  private getVar(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]![0] === name) return this.vars[i]![1];
    throw new TemplateError(`undefined variable: ${name}`);
  }

  private error(line: number, at: string, msg: string): TemplateError {
    return new TemplateError(`template: :${line}: executing "" at <${at}>: ${msg}`);
  }

  private evalPipeline(dot: unknown, pipe: Pipeline, line: number): unknown {
    let value: unknown = NONE;
    try {
      for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    } catch (err) {
      if (err instanceof TemplateError && !err.message.startsWith('template:')) throw this.error(line, pipe.text, err.message);
      if (err instanceof Error && !(err instanceof TemplateError)) throw this.error(line, pipe.text, err.message);
      throw err;
    }
    for (const d of pipe.decl) this.setVar(d, value, pipe.isAssign);
    return value;
  }

  private evalCommand(dot: unknown, cmd: Command, final: unknown): unknown {
    const [first, ...rest] = cmd.args;
    const args = () => {
      const vs = rest.map((a) => this.evalArg(dot, a));
      if (final !== NONE) vs.push(final);
      return vs;
    };
    switch (first!.type) {
      case 'field':
        return this.chain(dot, first!.chain, args());
      case 'variable':
        return this.chain(this.getVar(first!.name), first!.chain, args());
      case 'pipe':
        return this.chain(this.evalPipeline(dot, first!.pipe, 0), first!.chain, args());
      case 'identifier':
        return this.call(dot, first!.name, rest, final);
      default:
        if (rest.length > 0 || final !== NONE) throw new TemplateError(`can't give argument to non-function ${describe(first!)}`);
        return this.evalArg(dot, first!);
    }
  }

  private call(dot: unknown, name: string, argOps: Operand[], final: unknown): unknown {
    // and/or evaluate lazily, stopping at the deciding operand
    if (name === 'and' || name === 'or') {
      const ops: Array<() => unknown> = argOps.map((a) => () => this.evalArg(dot, a));
      if (final !== NONE) ops.push(() => final);
      if (ops.length === 0) throw new TemplateError(`wrong number of args for ${name}: want at least 1 got 0`);
      let v: unknown;
      for (const op of ops) {
        v = op();
        if (name === 'and' ? !isTrue(v) : isTrue(v)) return v;
      }
      return v;
    }
    const fn = this.funcs[name]!;
    const vs = argOps.map((a) => this.evalArg(dot, a));
    if (final !== NONE) vs.push(final);
    try {
      return fn(...vs);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new TemplateError(msg.startsWith('error calling') ? msg : `error calling ${name}: ${msg}`);
    }
  }

  private evalArg(dot: unknown, a: Operand): unknown {
    switch (a.type) {
      case 'dot': return dot;
      case 'field': return this.chain(dot, a.chain, []);
      case 'variable': return this.chain(this.getVar(a.name), a.chain, []);
      case 'pipe': return this.chain(this.evalPipeline(dot, a.pipe, 0), a.chain, []);
      case 'identifier': return this.call(dot, a.name, [], NONE);
      case 'string': return a.value;
      case 'number': return a.value;
      case 'bool': return a.value;
      case 'nil': return null;
    }
  }

  private chain(receiver: unknown, names: string[], args: unknown[]): unknown {
    if (names.length === 0) {
      if (args.length > 0) throw new TemplateError(`can't give argument to non-function`);
      return receiver;
    }
    let v = receiver;
    names.forEach((name, i) => {
      v = field(v, name, i === names.length - 1 ? args : []);
    });
    return v;
  }
}

function field(receiver: unknown, name: string, args: unknown[]): unknown {
  if (receiver === null || receiver === undefined || receiver === NO_VALUE || receiver === NIL_MAP || receiver === NIL_SLICE) {
    return NO_VALUE;
  }
  if (receiver instanceof Map) return receiver.has(name) ? receiver.get(name) : NO_VALUE;
  if (typeof receiver !== 'object') throw new TemplateError(`can't evaluate field ${name} in type ${typeof receiver}`);
  if (!(name in (receiver as object))) {
    const strict = (receiver as { [STRICT]?: string })[STRICT];
    if (strict) throw new TemplateError(`can't evaluate field ${name} in type ${strict}`);
    return NO_VALUE;
  }
  const v = (receiver as Record<string, unknown>)[name];
  if (typeof v === 'function') return (v as (...a: unknown[]) => unknown).apply(receiver, args);
  if (args.length > 0) throw new TemplateError(`${name} has arguments but cannot be invoked as function`);
  return v === null ? nullFor(name) : v;
}

function describe(o: Operand): string {
  switch (o.type) {
    case 'string': return JSON.stringify(o.value);
    case 'number': return o.text;
    case 'bool': return String(o.value);
    case 'nil': return 'nil';
    default: return o.type;
  }
}
