/**
 * `.dockerignore` with Docker's rules (moby/patternmatcher): one pattern per line, `#` comments, paths cleaned
 * and made relative, `*` and `?` never cross `/`, `**` crosses any number of directories, `[a-z]` classes,
 * `\` escapes, `!pattern` re-includes; the last matching pattern wins, and a pattern that matches a parent
 * directory matches everything below it.
 */
import path from 'node:path';
import { InvalidArgumentError } from '@berth/errdefs';

/** Go's filepath.Clean for slash paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  let c = path.posix.normalize(p);
  if (c.length > 1 && c.endsWith('/')) c = c.slice(0, -1);
  return c === '' ? '.' : c;
}

/** The patterns of a .dockerignore file. */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  let lines = text.split('\n');
  if (lines[0]?.startsWith('\uFEFF')) lines = [lines[0].slice(1), ...lines.slice(1)];
  for (const raw of lines) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (p === '') continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p.length > 0) {
      p = cleanPath(p);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

class Pattern {
  readonly cleaned: string;
  readonly exclusion: boolean;
  private type: MatchType = 'exact';
  private re: RegExp | undefined;

  constructor(cleaned: string, exclusion: boolean) {
    this.cleaned = cleaned;
    this.exclusion = exclusion;
    this.compile();
  }

  private compile(): void {
    let re = '^';
    let type: MatchType = 'exact';
    const chars = Array.from(this.cleaned);
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i]!;
      if (ch === '*') {
        if (chars[i + 1] === '*') {
          const start = i;
          i++;
          if (chars[i + 1] === '/') i++;
          if (i + 1 >= chars.length) {
            if (type === 'exact') type = 'prefix';
            else {
              re += '.*';
              type = 'regexp';
            }
          } else {
            re += '(.*/)?';
            type = 'regexp';
          }
          if (start === 0) type = 'suffix';
        } else {
          re += '[^/]*';
          type = 'regexp';
        }
      } else if (ch === '?') {
        re += '[^/]';
        type = 'regexp';
      } else if ('.+()|{}$'.includes(ch)) {
        re += `\\${ch}`;
      } else if (ch === '\\') {
        if (i + 1 < chars.length) {
          i++;
          re += `\\${chars[i]}`;
          type = 'regexp';
        } else {
          re += '\\\\';
        }
      } else if (ch === '[' || ch === ']') {
        re += ch;
        type = 'regexp';
      } else {
        re += ch;
      }
    }
    if (type === 'regexp') {
      try {
        this.re = new RegExp(`${re}$`, 'u');
      } catch {
        throw new InvalidArgumentError(`syntax error in pattern: ${this.cleaned}`);
      }
    }
    this.type = type;
  }

  match(p: string): boolean {
    switch (this.type) {
      case 'exact':
        return p === this.cleaned;
      case 'prefix':
        return p.startsWith(this.cleaned.slice(0, -2));
      case 'suffix': {
        const suffix = this.cleaned.slice(2);
        if (p.endsWith(suffix)) return true;
        return suffix.startsWith('/') && p === suffix.slice(1);
      }
      default:
        return this.re!.test(p);
    }
  }
}

export class PatternMatcher {
  private readonly patterns: Pattern[] = [];
  readonly hasExclusions: boolean;

  constructor(patterns: readonly string[]) {
    let exclusions = false;
    for (let p of patterns) {
      p = p.trim();
      if (p === '') continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw new InvalidArgumentError('illegal exclusion pattern: "!"');
        exclusion = true;
        exclusions = true;
        p = p.slice(1);
      }
      if (/\[[^\]]*$/u.test(p)) throw new InvalidArgumentError(`syntax error in pattern: ${p}`);
      this.patterns.push(new Pattern(p, exclusion));
    }
    this.hasExclusions = exclusions;
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether `file` (a slash path relative to the context) is excluded: it or one of its parents matches. */
  matches(file: string): boolean {
    const f = cleanPath(file);
    if (f === '.') return false;
    const parent = path.posix.dirname(f);
    const parentDirs = parent === '.' ? [] : parent.split('/');
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let m = p.match(f);
      if (!m) {
        for (let i = 0; i < parentDirs.length && !m; i++) m = p.match(parentDirs.slice(0, i + 1).join('/'));
      }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }
}
