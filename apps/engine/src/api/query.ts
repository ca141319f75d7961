/**
 * Query-string and body helpers with Docker's parsing rules (`httputils.BoolValue`, `filters.FromJSON`), so that
 * clients old and new (docker CLI, dockerode, docker-py, testcontainers) are read the same way dockerd reads them.
 */
import type { FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { InvalidArgumentError } from '@berth/errdefs';

export type Query = Record<string, string | string[] | undefined>;

export function queryOf(request: FastifyRequest): Query {
  return (request.query ?? {}) as Query;
}

/** The last value of a query parameter. */
export function qs(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Docker's BoolValue: absent, "", "0", "no", "false", "none" are false; anything else true. */
export function qbool(q: Query, name: string, dflt = false): boolean {
  const v = qs(q, name);
  if (v === undefined) return dflt;
  return !['', '0', 'no', 'false', 'none'].includes(v.trim().toLowerCase());
}

/** BoolValueOrDefault: absent or empty gives the default. */
export function qboolDefault(q: Query, name: string, dflt: boolean): boolean {
  const v = qs(q, name);
  if (v === undefined || v === '') return dflt;
  return qbool(q, name);
}

export function qint(q: Query, name: string, dflt?: number): number | undefined {
  const v = qs(q, name);
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || !/^-?\d+(\.\d+)?$/.test(v.trim())) throw new InvalidArgumentError(`invalid value for ${name}: ${JSON.stringify(v)}`);
  return Math.trunc(n);
}

/** Docker filters: `{"key":["v1","v2"]}` or the legacy `{"key":{"v1":true}}`. */
export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | undefined, allowed?: readonly string[]): Filters {
  const out: Filters = new Map();
  if (raw === undefined || raw === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new InvalidArgumentError(`invalid filter: ${(err as Error).message}`);
  }
  if (parsed === null) return out;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError(`invalid filter: expected an object, got ${JSON.stringify(raw)}`);
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(v)) values = v.map(String);
    else if (v && typeof v === 'object') values = Object.entries(v).filter(([, on]) => on).map(([x]) => x);
    else throw new InvalidArgumentError(`invalid filter '${k}': expected a list of values`);
    if (allowed && !allowed.includes(k)) throw new InvalidArgumentError(`invalid filter '${k}'`);
    out.set(k, values);
  }
  return out;
}

/** `label=key` or `label=key=value` against a label map. */
export function matchLabels(filters: string[] | undefined, labels: Record<string, string> | null | undefined, negate = false): boolean {
  if (!filters || filters.length === 0) return true;
  const l = labels ?? {};
  return filters.every((f) => {
    const i = f.indexOf('=');
    const hit = i < 0 ? Object.hasOwn(l, f) : l[f.slice(0, i)] === f.slice(i + 1);
    return negate ? !hit : hit;
  });
}

const MAX_JSON_BODY = 16 * 1024 * 1024;

/** Reads a request body as JSON (the parser hands bodies over as streams); empty body → `undefined`. */
export async function readJson<T = unknown>(request: FastifyRequest, maxBytes = MAX_JSON_BODY): Promise<T | undefined> {
  const body = request.body as Readable | Buffer | string | undefined | null;
  let text: string;
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') text = body;
  else if (Buffer.isBuffer(body)) text = body.toString('utf8');
  else {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of body as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > maxBytes) {
        // Drain the rest (the client still gets the answer, not a reset connection).
        body.resume?.();
        throw new InvalidArgumentError(`request body too large (more than ${maxBytes} bytes)`);
      }
      chunks.push(c);
    }
    text = Buffer.concat(chunks).toString('utf8');
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new InvalidArgumentError(`invalid JSON: ${(err as Error).message}`);
  }
}

/** A JSON body that must be an object (or absent → `{}`). */
export async function readJsonObject<T extends object>(request: FastifyRequest): Promise<Partial<T>> {
  const v = await readJson(request);
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError('invalid JSON: expected an object');
  return v as Partial<T>;
}

/** The request body as a stream (tar uploads); empty when there was none. */
export function bodyStream(request: FastifyRequest): Readable | undefined {
  const body = request.body as Readable | undefined | null;
  return body && typeof (body as Readable).pipe === 'function' ? body : undefined;
}

/** Decodes `X-Registry-Auth` (base64url JSON); bad values give empty credentials as dockerd does. */
export function registryAuth(request: FastifyRequest): Record<string, string> | undefined {
  const h = request.headers['x-registry-auth'];
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  try {
    const json = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    const parsed = JSON.parse(json) as unknown;
    return parsed && typeof parsed === 'object' ? parsed as Record<string, string> : undefined;
  } catch {
    return undefined;
  }
}
