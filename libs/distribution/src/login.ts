/**
 * `docker login` (the engine's `POST /auth`) and `docker search`: checking credentials against a registry's
 * /v2/ endpoint (Basic: a request with them; Bearer: a token request with `offline_token=true`, whose refresh
 * token comes back as the identity token), and searching an index's /v1/search (or, for registries without
 * it, the /v2/_catalog filtered by the term).
 */
import { InvalidArgumentError, NotImplementedError, UnauthorizedError, codeOf } from '@berth/errdefs';
import { parseNormalizedReference } from '@berth/oci';
import { fetchToken } from './auth.ts';
import { parseChallenges } from './challenge.ts';
import { type AuthConfig, hasCredentials, hostOfServerAddress, normalizeAuthConfig } from './credentials.ts';
import { connectionError, httpStatusLine, registryError, registryErrorStatus } from './errors.ts';
import { DOCKER_HUB_DOMAIN, type Endpoint, type RegistryHosts } from './hosts.ts';
import { headerValues, type Transport } from './transport.ts';

export interface LoginResult {
  /** Docker's `Login Succeeded`. */
  status: string;
  /** A refresh token to store instead of the password (token servers that issue one). */
  identityToken?: string;
}

export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

/** The registry domain a login's server address names (`https://index.docker.io/v1/` → docker.io). */
export function loginDomain(serverAddress: string | undefined): string {
  if (!serverAddress) return DOCKER_HUB_DOMAIN;
  const host = hostOfServerAddress(serverAddress);
  return ['index.docker.io', 'registry-1.docker.io', 'docker.io', 'registry.hub.docker.com'].includes(host) ? DOCKER_HUB_DOMAIN : host;
}

async function tryEndpoints<T>(endpoints: Endpoint[], hosts: RegistryHosts, fn: (e: Endpoint) => Promise<T>): Promise<T> {
  let lastErr: unknown;
  for (const [i, e] of endpoints.entries()) {
    try {
      return await fn(e);
    } catch (err) {
      lastErr = err;
      const canFallBack = i < endpoints.length - 1 && registryErrorStatus(err) === undefined && codeOf(err) === 'unavailable';
      if (!canFallBack) throw err;
      if (e.origin.startsWith('https:')) hosts.markPlainHttp(e.host);
    }
  }
  throw lastErr;
}

export async function checkLogin(
  transport: Transport, hosts: RegistryHosts, serverAddress: string, creds: AuthConfig,
): Promise<LoginResult> {
  const domain = loginDomain(serverAddress);
  const cfg = normalizeAuthConfig(creds);
  if (!hasCredentials(cfg)) throw new InvalidArgumentError('login: username and password (or an identity token) are required');
  return tryEndpoints(hosts.endpoints(domain, 'push'), hosts, async (e) => {
    const url = new URL(`${e.origin}/v2/`);
    const ctx = `Get "${url.href}"`;
    const get = async (headers: Record<string, string> = {}) => {
      try {
        return await transport.request(url, { method: 'GET', headers, insecureTls: e.insecureTls, idleTimeoutMs: 30_000 });
      } catch (err) {
        throw connectionError(err, ctx);
      }
    };
    const res = await get();
    const body = await res.text().catch(() => '');
    if (res.status === 200) return { status: 'Login Succeeded' };
    if (res.status !== 401) throw registryError(res.status, body, ctx);
    const challenges = parseChallenges(headerValues(res.headers, 'www-authenticate'));
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      try {
        const t = await fetchToken(transport, {
          realm: bearer.params.realm ?? '', service: bearer.params.service, scopes: [], creds: cfg, clientId: 'berth', offline: true,
          insecureTls: e.insecureTls,
        }, ctx);
        return { status: 'Login Succeeded', ...(t.refreshToken ? { identityToken: t.refreshToken } : {}) };
      } catch (err) {
        if (codeOf(err) === 'unauthorized' || codeOf(err) === 'permission_denied') {
          throw new UnauthorizedError(`${ctx}: ${(err as Error).message.replace(`${ctx}: `, '')}`, { cause: err });
        }
        throw err;
      }
    }
    const basic = `Basic ${Buffer.from(`${cfg.username ?? ''}:${cfg.password ?? ''}`).toString('base64')}`;
    const again = await get({ Authorization: basic });
    again.discard();
    if (again.status === 200) return { status: 'Login Succeeded' };
    throw new UnauthorizedError(`login attempt to ${url.href} failed with status: ${httpStatusLine(again.status)}`);
  });
}

/**
 * Searches a registry: the term's domain picks it (`127.0.0.1:5000/busy` searches 127.0.0.1:5000 for `busy`,
 * `busybox` searches Docker Hub's index).
 */
export async function searchRegistry(
  transport: Transport, hosts: RegistryHosts, term: string,
  opts: { limit?: number; auth?: (endpoint: Endpoint) => Promise<string | undefined> } = {},
): Promise<SearchResult[]> {
  let domain = DOCKER_HUB_DOMAIN;
  let q = term;
  const slash = term.indexOf('/');
  if (slash > 0 && /[.:]|^localhost$/.test(term.slice(0, slash))) {
    domain = term.slice(0, slash);
    q = term.slice(slash + 1);
  }
  if (!q) throw new InvalidArgumentError('search: empty term');
  const limit = opts.limit ?? 25;
  const endpoints = domain === DOCKER_HUB_DOMAIN
    ? [{ origin: 'https://index.docker.io', host: 'index.docker.io', mirror: false, insecureTls: false }]
    : hosts.endpoints(domain, 'push');
  return tryEndpoints(endpoints, hosts, async (e) => {
    const url = new URL(`${e.origin}/v1/search`);
    url.searchParams.set('q', q);
    url.searchParams.set('n', String(limit));
    const ctx = `Get "${url.href}"`;
    let res;
    try {
      res = await transport.request(url, { method: 'GET', insecureTls: e.insecureTls, idleTimeoutMs: 30_000 });
    } catch (err) {
      throw connectionError(err, ctx);
    }
    const body = await res.text().catch(() => '');
    if (res.status === 200) {
      const doc = JSON.parse(body) as { results?: SearchResult[] };
      return (doc.results ?? []).slice(0, limit);
    }
    if (res.status !== 404) throw registryError(res.status, body, ctx);
    return searchCatalog(transport, e, q, limit, opts.auth);
  });
}

async function searchCatalog(
  transport: Transport, e: Endpoint, q: string, limit: number, auth?: (endpoint: Endpoint) => Promise<string | undefined>,
): Promise<SearchResult[]> {
  const url = new URL(`${e.origin}/v2/_catalog`);
  url.searchParams.set('n', '1000');
  const ctx = `Get "${url.href}"`;
  const authorization = await auth?.(e);
  let res;
  try {
    res = await transport.request(url, { method: 'GET', insecureTls: e.insecureTls, headers: authorization ? { Authorization: authorization } : {} });
  } catch (err) {
    throw connectionError(err, ctx);
  }
  const body = await res.text().catch(() => '');
  if (res.status === 404) throw new NotImplementedError(`registry ${e.host} does not support search`);
  if (res.status !== 200) throw registryError(res.status, body, ctx);
  const repos = (JSON.parse(body) as { repositories?: string[] }).repositories ?? [];
  const needle = q.toLowerCase();
  return repos.filter((r) => r.includes(needle)).slice(0, limit).map((r) => ({
    name: `${e.host}/${parseNormalizedReference(`${e.host}/${r}`).path}`,
    description: '', star_count: 0, is_official: false, is_automated: false,
  }));
}
