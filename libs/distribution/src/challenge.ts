/**
 * `WWW-Authenticate` challenges (RFC 7235): `Bearer realm="https://auth/token",service="registry",
 * scope="repository:x:pull"` or `Basic realm="x"`. Node joins repeated headers with ", ", so one string may
 * hold several challenges; the parser tells a new scheme from a parameter by the missing `=`.
 */
export interface Challenge {
  /** Lower-case scheme: `bearer`, `basic`, … */
  scheme: string;
  /** Parameter names in lower case. */
  params: Record<string, string>;
}

const tokenChar = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

export function parseChallenges(values: string | string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const v of Array.isArray(values) ? values : [values]) out.push(...parseOne(v));
  return out;
}

function parseOne(s: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const ws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && tokenChar.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  // Unquoted values should be tokens; real servers send URLs bare too, so take everything up to a comma.
  const bare = (): string => {
    const start = i;
    while (i < s.length && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
    return s.slice(start, i);
  };
  const quoted = (): string => {
    let v = '';
    i++; // opening quote
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i];
      i++;
    }
    i++; // closing quote
    return v;
  };
  let current: Challenge | undefined;
  while (i < s.length) {
    ws();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const name = token();
    if (name === '') {
      i++; // skip a stray character rather than loop forever
      continue;
    }
    ws();
    if (s[i] === '=' && current) {
      i++;
      ws();
      current.params[name.toLowerCase()] = s[i] === '"' ? quoted() : bare();
      continue;
    }
    // A scheme; a token68 (`Negotiate abc==`) may follow instead of parameters: keep it as `token68`.
    current = { scheme: name.toLowerCase(), params: {} };
    out.push(current);
    const t68 = /^([A-Za-z0-9\-._~+/]+=*)[ \t]*(?:,|$)/.exec(s.slice(i));
    if (t68) {
      current.params.token68 = t68[1]!;
      i += t68[1]!.length;
    }
  }
  return out;
}
