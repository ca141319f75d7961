// `inspect` output as docker prints it: raw daemon JSON re-indented into one array, or a template per object.
import type { DockerClient } from '@berth/docker-api';
import { readText } from '@berth/docker-api';
import type { Command } from '../framework/command.ts';
import { compile, execute, templateSource } from '../format/formatter.ts';
import { describeError, isFatal } from './describe.ts';
import { indentJson } from './json-indent.ts';

export interface Found {
  raw: string;
  value: unknown;
}

/** GETs `path` and returns the raw body with its parsed value. */
export async function getRaw(client: DockerClient, path: string, query?: Record<string, string | boolean | undefined>): Promise<Found> {
  const res = await client.request('GET', path, { query });
  const raw = await readText(res.body);
  return { raw: raw.trim(), value: JSON.parse(raw) };
}

/**
 * Looks up each name with `get`, then prints the results: an indented JSON array when there is no format,
 * else the template once per object. Errors are printed after the output; returns the exit code.
 */
export async function inspectAll(cmd: Command, names: string[], format: string | undefined,
  get: (name: string) => Promise<Found>, onError: (name: string, err: unknown) => string = (_n, e) => describeError(e)): Promise<number> {
  const found: Found[] = [];
  const errors: string[] = [];
  for (const name of names) {
    try {
      found.push(await get(name));
    } catch (err) {
      if (isFatal(err)) throw err;
      errors.push(onError(name, err));
    }
  }
  const f = format ?? '';
  if (f === '' || f === 'json') {
    cmd.ctx.out(found.length === 0 ? '[]\n' : `${indentJson(`[${found.map((x) => x.raw).join(',')}]`)}\n`);
  } else {
    const t = compile(templateSource(f, ''));
    for (const x of found) cmd.ctx.out(`${execute(t, x.value)}\n`);
  }
  for (const e of errors) cmd.warn(e);
  return errors.length ? 1 : 0;
}
