/**
 * Authorization against registries, as Docker's client does it: the first request to an endpoint learns its
 * challenge (GET /v2/ → 401 with `WWW-Authenticate`); Basic sends the credentials on every request; Bearer
 * fetches a token from the challenge's realm for the scopes of the operation (`repository:x:pull,push`) —
 * GET with Basic credentials, or an OAuth2 POST when the credentials are an identity (refresh) token — and
 * caches it until it expires. Tokens are keyed by endpoint, user and scopes, so pulls with different
 * `X-Registry-Auth` in one process never share a token.
 */
import { UnauthorizedError } from '@berth/errdefs';
import { parseChallenges, type Challenge } from './challenge.ts';
import { type AuthConfig, hasCredentials, normalizeAuthConfig } from './credentials.ts';
import { connectionError, registryError } from './errors.ts';
import type { Transport } from './transport.ts';

export interface TokenResponse {
  token: string;
  /** Present when the server issued a refresh token (login with `offline_token=true`). */
  refreshToken?: string;
  expiresAt: number;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface AuthorizeOptions {
  /** `https://host:port` of the endpoint being talked to. */
  origin: string;
  /** Credentials for this request (already resolved by the caller); undefined for anonymous. */
  creds?: AuthConfig;
  /** Scopes the request needs, e.g. `repository:library/busybox:pull`. */
  scopes: string[];
  insecureTls?: boolean;
}

export class Authorizer {
  private readonly challenges = new Map<string, Challenge[]>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  private readonly transport: Transport;
  private readonly clientId: string;

  constructor(transport: Transport, clientId = 'berth') {
    this.transport = transport;
    this.clientId = clientId;
  }

  /** Whether the endpoint's challenge is known (i.e. /v2/ has been pinged or a 401 seen). */
  knows(origin: string): boolean {
    return this.challenges.has(origin);
  }

  /** Records an endpoint's challenges from a 401's WWW-Authenticate values (none: the endpoint is open). */
  learn(origin: string, wwwAuthenticate: string[]): void {
    this.challenges.set(origin, parseChallenges(wwwAuthenticate));
  }

  /** The scheme the endpoint asked for, if any. */
  scheme(origin: string): 'bearer' | 'basic' | undefined {
    const c = this.challenges.get(origin) ?? [];
    if (c.some((x) => x.scheme === 'bearer')) return 'bearer';
    if (c.some((x) => x.scheme === 'basic')) return 'basic';
    return undefined;
  }

  /** Drops a cached token that the registry refused, so the next `header` fetches a fresh one. */
  invalidate(opts: AuthorizeOptions): void {
    this.tokens.delete(this.tokenKey(opts));
  }

  /**
   * The Authorization header value for a request, or undefined for anonymous. `context` names the request for
   * error messages (`Head "http://…/manifests/latest"`). Throws UnauthorizedError for Basic without credentials
   * (Docker's `no basic auth credentials`) and for refused token requests.
   */
  async header(opts: AuthorizeOptions, context: string): Promise<string | undefined> {
    const challenges = this.challenges.get(opts.origin) ?? [];
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const creds = opts.creds && hasCredentials(opts.creds) ? normalizeAuthConfig(opts.creds) : undefined;
    if (bearer) {
      if (creds?.registrytoken) return `Bearer ${creds.registrytoken}`;
      const t = await this.token(bearer, opts, creds, context);
      return `Bearer ${t.token}`;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (!creds?.username && !creds?.password) throw new UnauthorizedError(`${context}: no basic auth credentials`);
      return `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64')}`;
    }
    return undefined;
  }

  private tokenKey(opts: AuthorizeOptions): string {
    const user = opts.creds?.username ?? (opts.creds?.identitytoken ? `token:${opts.creds.identitytoken.slice(0, 16)}` : '');
    return `${opts.origin}|${user}|${[...new Set(opts.scopes)].sort().join(' ')}`;
  }

  private async token(challenge: Challenge, opts: AuthorizeOptions, creds: AuthConfig | undefined, context: string): Promise<CachedToken> {
    const key = this.tokenKey(opts);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now() + 5_000) return cached;
    let p = this.inflight.get(key);
    if (!p) {
      const scopes = [...new Set([...opts.scopes, ...(challenge.params.scope ? challenge.params.scope.split(' ') : [])])];
      p = fetchToken(this.transport, {
        realm: challenge.params.realm ?? '',
        service: challenge.params.service,
        scopes,
        creds,
        clientId: this.clientId,
        insecureTls: opts.insecureTls,
      }, context).then((t) => {
        const entry = { token: t.token, expiresAt: t.expiresAt };
        this.tokens.set(key, entry);
        return entry;
      }).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }
}

export interface TokenRequest {
  realm: string;
  service?: string;
  scopes: string[];
  creds?: AuthConfig;
  clientId: string;
  /** Ask for a refresh token (login). */
  offline?: boolean;
  insecureTls?: boolean;
}

/**
 * Fetches a bearer token from a token server (the distribution token spec). With an identity token, the
 * OAuth2 refresh-token grant (POST) is used, falling back to GET when the server does not support POST.
 */
export async function fetchToken(transport: Transport, req: TokenRequest, context: string): Promise<TokenResponse> {
  if (!req.realm) throw new UnauthorizedError(`${context}: bearer challenge without a realm`);
  let realm: URL;
  try {
    realm = new URL(req.realm);
  } catch {
    throw new UnauthorizedError(`${context}: invalid token realm ${JSON.stringify(req.realm)}`);
  }
  if (req.creds?.identitytoken) {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: req.creds.identitytoken, client_id: req.clientId });
    if (req.service) form.set('service', req.service);
    if (req.scopes.length) form.set('scope', req.scopes.join(' '));
    if (req.offline) form.set('access_type', 'offline');
    const res = await send(transport, realm, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: form.toString(),
      insecureTls: req.insecureTls,
    }, context);
    if (res.status !== 404 && res.status !== 405) return parseTokenResponse(res.status, await res.text(), context, req.creds.identitytoken);
    res.discard();
  }
  const url = new URL(realm);
  if (req.service) url.searchParams.set('service', req.service);
  for (const s of req.scopes) url.searchParams.append('scope', s);
  const headers: Record<string, string> = {};
  if (req.creds?.username || req.creds?.password) {
    url.searchParams.set('account', req.creds.username ?? '');
    headers.Authorization = `Basic ${Buffer.from(`${req.creds.username ?? ''}:${req.creds.password ?? ''}`).toString('base64')}`;
  }
  if (req.offline) {
    url.searchParams.set('offline_token', 'true');
    url.searchParams.set('client_id', req.clientId);
  }
  const res = await send(transport, url, { method: 'GET', headers, insecureTls: req.insecureTls }, context);
  return parseTokenResponse(res.status, await res.text(), context);
}

async function send(transport: Transport, url: URL, req: Parameters<Transport['request']>[1], context: string) {
  try {
    return await transport.request(url, req);
  } catch (err) {
    throw connectionError(err, `${context}: fetch token from ${url.origin}${url.pathname}`);
  }
}

function parseTokenResponse(status: number, body: string, context: string, refreshToken?: string): TokenResponse {
  if (status !== 200) {
    const err = registryError(status, body, context);
    // A token server's 401/403 means the credentials are wrong or insufficient; keep its message.
    throw err;
  }
  let doc: { token?: string; access_token?: string; expires_in?: number; issued_at?: string; refresh_token?: string };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch (err) {
    throw new UnauthorizedError(`${context}: token server answered something that is not JSON`, { cause: err });
  }
  const token = doc.access_token || doc.token;
  if (!token) throw new UnauthorizedError(`${context}: token server answered without a token`);
  const issued = doc.issued_at ? Date.parse(doc.issued_at) : NaN;
  const start = Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now());
  // The spec's default lifetime is 60 s.
  const expiresAt = start + Math.max(doc.expires_in ?? 60, 60) * 1000;
  const refresh = doc.refresh_token ?? refreshToken;
  return { token, expiresAt, ...(refresh ? { refreshToken: refresh } : {}) };
}

/** `repository:<path>:pull` or `:pull,push`. */
export function repositoryScope(path: string, actions: ('pull' | 'push')[]): string {
  return `repository:${path}:${actions.join(',')}`;
}
