// .dockerignore matching as docker's patternmatcher does it: patterns are cleaned paths relative to the
// context, `*`/`?`/`[…]` within one path element, `**` across elements, `!` re-includes; a path is
// excluded when the last pattern matching it (or one of its parent directories) is not an exception.

interface Pattern {
  re: RegExp;
  exclusion: boolean;
  /** Directory depth of the pattern, so a parent directory can be tested against it. */
  dirs: number;
}

export class PatternMatcher {
  private readonly patterns: Pattern[];

  constructor(lines: string[]) {
    this.patterns = [];
    for (let raw of lines) {
      raw = raw.trim();
      if (raw === '' || raw.startsWith('#')) continue;
      let exclusion = false;
      if (raw.startsWith('!')) {
        exclusion = true;
        raw = raw.slice(1).trim();
      }
      const cleaned = cleanPath(raw.replace(/^\/+/, ''));
      if (cleaned === '' || cleaned === '.') continue;
      this.patterns.push({ re: toRegExp(cleaned), exclusion, dirs: cleaned.split('/').length });
    }
  }

  get hasExclusions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /** True when `file` (a slash-separated path relative to the context) is excluded. */
  matches(file: string): boolean {
    let matched = false;
    const parts = file.split('/');
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue; // cannot change the outcome
      let m = p.re.test(file);
      if (!m) {
        // a pattern matching a parent directory matches its contents too
        for (let i = 1; i < parts.length && !m; i++) m = p.re.test(parts.slice(0, i).join('/'));
      }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }
}

export function parseDockerignore(text: string): string[] {
  return text.split(/\r?\n/);
}

function cleanPath(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return out.join('/');
}

function toRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) {
        re += '\\[';
      } else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) {
      i++;
      re += pattern[i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`${re}$`);
}
