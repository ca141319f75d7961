/**
 * containerd's filter syntax: `field==value`, `field!=value`, `field~=regexp`, or a bare `field` (present and
 * non-empty); selectors joined by `,` must all match; several filter strings match when any does. Field paths
 * use dots with optional quoting: `labels."io.example/x"==y`, `name~=^busybox`. Values may be quoted.
 */
import { InvalidArgumentError } from '@berth/errdefs';

/** Looks up a field path on an object, returning its string value or undefined when absent. */
export type Adaptor = (fieldPath: string[]) => string | undefined;

interface Selector { path: string[]; op: '==' | '!=' | '~=' | 'present'; value: string; re?: RegExp }

function readToken(s: string, i: number, stops: string): [string, number] {
  if (s[i] === '"' || s[i] === '\'' || s[i] === '/') {
    const q = s[i]!;
    let out = '';
    let j = i + 1;
    for (; j < s.length && s[j] !== q; j++) {
      if (s[j] === '\\' && j + 1 < s.length) j++;
      out += s[j];
    }
    if (j >= s.length) throw new InvalidArgumentError(`filter ${JSON.stringify(s)}: unterminated quote`);
    return [out, j + 1];
  }
  let j = i;
  while (j < s.length && !stops.includes(s[j]!)) j++;
  return [s.slice(i, j).trim(), j];
}

function parseSelector(s: string, start: number): [Selector, number] {
  const path: string[] = [];
  let i = start;
  for (;;) {
    const [part, j] = readToken(s, i, '.=!~,');
    if (part === '') throw new InvalidArgumentError(`filter ${JSON.stringify(s)}: empty field name at ${i}`);
    path.push(part);
    i = j;
    if (s[i] === '.') {
      i++;
      continue;
    }
    break;
  }
  const op2 = s.slice(i, i + 2);
  if (op2 === '==' || op2 === '!=' || op2 === '~=') {
    const [value, j] = readToken(s, i + 2, ',');
    const sel: Selector = { path, op: op2, value };
    if (op2 === '~=') {
      try {
        sel.re = new RegExp(value);
      } catch (err) {
        throw new InvalidArgumentError(`filter ${JSON.stringify(s)}: bad regular expression ${JSON.stringify(value)}: ${(err as Error).message}`);
      }
    }
    return [sel, j];
  }
  if (i < s.length && s[i] !== ',') throw new InvalidArgumentError(`filter ${JSON.stringify(s)}: unexpected ${JSON.stringify(s[i])} at ${i}`);
  return [{ path, op: 'present', value: '' }, i];
}

function parseOne(s: string): Selector[] {
  const sels: Selector[] = [];
  let i = 0;
  while (i < s.length) {
    const [sel, j] = parseSelector(s, i);
    sels.push(sel);
    i = j;
    if (s[i] === ',') i++;
  }
  return sels;
}

function matchSelector(sel: Selector, adapt: Adaptor): boolean {
  const v = adapt(sel.path);
  switch (sel.op) {
    case 'present': return v !== undefined && v !== '';
    case '==': return v === sel.value;
    case '!=': return v !== sel.value;
    case '~=': return v !== undefined && sel.re!.test(v);
  }
}

/** Compiles filter strings into a predicate over an adaptor; no filters (or only empty ones) match everything. */
export function compileFilters(filters: readonly string[]): (adapt: Adaptor) => boolean {
  const parsed = filters.filter((f) => f.trim() !== '').map(parseOne);
  if (parsed.length === 0) return () => true;
  return (adapt) => parsed.some((sels) => sels.every((sel) => matchSelector(sel, adapt)));
}

/** An adaptor over a record of top-level string fields plus `labels.<key>` (the common case). */
export function fieldsAdaptor(fields: Record<string, string | undefined>, labels: Record<string, string> = {}): Adaptor {
  return (p) => {
    if (p[0] === 'labels') return p.length > 1 ? labels[p.slice(1).join('.')] : undefined;
    return p.length === 1 ? fields[p[0]!] : undefined;
  };
}
