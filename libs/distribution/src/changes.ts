/**
 * `docker import --change` / `docker commit --change`: the Dockerfile instructions that only change the image
 * config (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR),
 * applied to an ImageExecConfig with Docker's rules (shell form → `/bin/sh -c`, WORKDIR relative to the
 * previous one, ENV and LABEL `k=v` pairs with quotes).
 */
import path from 'node:path';
import { InvalidArgumentError } from '@berth/errdefs';
import type { HealthConfig, ImageExecConfig } from '@berth/oci';

const VALID = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

/** Splits words the way the Dockerfile parser does for ENV/LABEL/EXPOSE: whitespace, quotes, backslash escapes. */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | '\'' | undefined;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += ch;
      continue;
    }
    if (ch === '"' || ch === '\'') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new InvalidArgumentError(`unmatched quote in ${JSON.stringify(s)}`);
  if (inWord) out.push(cur);
  return out;
}

/** A JSON array of strings (exec form), or undefined when the text is not one. */
function jsonArray(s: string): string[] | undefined {
  const t = s.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // shell form after all
  }
  return undefined;
}

function commandOf(args: string): string[] {
  return jsonArray(args) ?? ['/bin/sh', '-c', args];
}

function pairs(args: string, instr: string, allowLegacy: boolean): [string, string][] {
  const words = splitWords(args);
  if (words.length === 0) throw new InvalidArgumentError(`${instr} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    if (!allowLegacy) throw new InvalidArgumentError(`${instr} names can not be blank`);
    // Legacy `ENV key value with spaces`.
    const m = /^\s*(\S+)\s+([\s\S]*)$/.exec(args);
    if (!m) throw new InvalidArgumentError(`${instr} must have two arguments`);
    return [[m[1]!, splitWords(m[2]!).join(' ')]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`${instr} names can not be blank`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

function parseDuration(s: string, flag: string): number {
  let total = 0;
  let rest = s;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) throw new InvalidArgumentError(`invalid duration for --${flag}: ${s}`);
    const mult: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
    total += Number(m[1]) * mult[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

function healthcheck(args: string): HealthConfig {
  let rest = args.trim();
  const hc: HealthConfig = {};
  for (;;) {
    const m = /^--([a-z-]+)=(\S+)\s*/.exec(rest);
    if (!m) break;
    rest = rest.slice(m[0].length);
    const [flag, value] = [m[1]!, m[2]!];
    if (flag === 'interval') hc.Interval = parseDuration(value, flag);
    else if (flag === 'timeout') hc.Timeout = parseDuration(value, flag);
    else if (flag === 'start-period') hc.StartPeriod = parseDuration(value, flag);
    else if (flag === 'start-interval') hc.StartInterval = parseDuration(value, flag);
    else if (flag === 'retries') hc.Retries = Number(value);
    else throw new InvalidArgumentError(`unknown flag: --${flag}`);
  }
  const m = /^(\S+)\s*([\s\S]*)$/.exec(rest);
  const kind = m?.[1]?.toUpperCase();
  if (kind === 'NONE') return { Test: ['NONE'] };
  if (kind !== 'CMD') throw new InvalidArgumentError('Unknown type "' + (m?.[1] ?? '') + '" in HEALTHCHECK (try CMD)');
  const cmd = m![2]!;
  const exec = jsonArray(cmd);
  hc.Test = exec ? ['CMD', ...exec] : ['CMD-SHELL', cmd];
  return hc;
}

/** Applies `--change` instructions to a config (a new object is returned). */
export function applyChanges(base: ImageExecConfig | undefined, changes: string[]): ImageExecConfig {
  const c: ImageExecConfig = structuredClone(base ?? {});
  for (const raw of changes) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(line)!;
    const instr = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (!VALID.has(instr)) throw new InvalidArgumentError(`${instr} is not a valid change command`);
    switch (instr) {
      case 'CMD':
        c.Cmd = commandOf(args);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = args === '' ? null : commandOf(args);
        break;
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of pairs(args, 'ENV', true)) {
          const i = env.findIndex((e) => e === k || e.startsWith(`${k}=`));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs(args, 'LABEL', true)) };
        break;
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of splitWords(args)) {
          const pm = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!pm) throw new InvalidArgumentError(`invalid containerPort: ${p}`);
          const lo = Number(pm[1]);
          const hi = pm[2] ? Number(pm[2]) : lo;
          for (let port = lo; port <= hi; port++) ports[`${port}/${(pm[3] ?? 'tcp').toLowerCase()}`] = {};
        }
        c.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(c.Volumes ?? {}) };
        for (const v of jsonArray(args) ?? splitWords(args)) {
          if (!v) throw new InvalidArgumentError('VOLUME specified can not be an empty string');
          vols[v] = {};
        }
        c.Volumes = vols;
        break;
      }
      case 'USER':
        c.User = args;
        break;
      case 'WORKDIR':
        c.WorkingDir = path.posix.isAbsolute(args) ? path.posix.normalize(args) : path.posix.join(c.WorkingDir || '/', args);
        break;
      case 'STOPSIGNAL':
        c.StopSignal = args;
        break;
      case 'ONBUILD': {
        const inner = /^(\S+)/.exec(args)?.[1]?.toUpperCase();
        if (!inner) throw new InvalidArgumentError('ONBUILD requires at least one argument');
        if (inner === 'ONBUILD' || inner === 'FROM' || inner === 'MAINTAINER') throw new InvalidArgumentError(`${inner} isn't allowed as an ONBUILD trigger`);
        c.OnBuild = [...(c.OnBuild ?? []), args];
        break;
      }
      case 'HEALTHCHECK':
        c.Healthcheck = healthcheck(args);
        break;
    }
  }
  return c;
}
