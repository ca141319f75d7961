/**
 * Registry credentials: Docker's AuthConfig, the engine's `X-Registry-Auth` / `X-Registry-Config` headers
 * (base64url JSON), and docker-style `config.json` files (`auths` with base64 `auth`, `identitytoken`,
 * `credsStore` / `credHelpers` run as `docker-credential-<name> get`).
 * Vocabulary: a *server key* is how config.json names a registry: the host (`127.0.0.1:5000`), or
 * `https://index.docker.io/v1/` for Docker Hub.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, UnavailableError } from '@berth/errdefs';

/** Docker's AuthConfig (the JSON field names of `X-Registry-Auth` and `POST /auth`). */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64 of `username:password`, as config.json stores it. */
  auth?: string;
  email?: string;
  serveraddress?: string;
  /** An OAuth refresh token from a previous login (Docker Hub, token servers). */
  identitytoken?: string;
  /** A bearer token to send as it is. */
  registrytoken?: string;
}

/** Where the client finds credentials for a registry host (`127.0.0.1:5000`, `docker.io`). */
export interface CredentialStore {
  get(host: string): Promise<AuthConfig | undefined>;
}

export const DOCKER_HUB_SERVER_KEY = 'https://index.docker.io/v1/';
const HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** The config.json key for a registry host: Docker Hub's legacy URL, else the bare host. */
export function serverKey(host: string): string {
  const h = hostOfServerAddress(host);
  return HUB_HOSTS.has(h) ? DOCKER_HUB_SERVER_KEY : h;
}

/** `https://host:5000/v1/` → `host:5000` (Docker's ConvertToHostname). */
export function hostOfServerAddress(address: string): string {
  let s = address.trim();
  s = s.replace(/^[a-z]+:\/\//i, '');
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  return s.toLowerCase();
}

/** Fills username/password from `auth` (base64 `user:pass`) when only that is set; returns a new object. */
export function normalizeAuthConfig(cfg: AuthConfig): AuthConfig {
  const out = { ...cfg };
  if (out.auth && !out.username && !out.password) {
    const decoded = Buffer.from(out.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new InvalidArgumentError('invalid auth configuration: auth is not base64 of username:password');
    out.username = decoded.slice(0, colon);
    out.password = decoded.slice(colon + 1);
  }
  return out;
}

/** True when the config carries anything usable. */
export function hasCredentials(cfg: AuthConfig | undefined): cfg is AuthConfig {
  return !!cfg && !!(cfg.username || cfg.password || cfg.auth || cfg.identitytoken || cfg.registrytoken);
}

function decodeBase64Json(value: string, what: string): unknown {
  const s = value.trim();
  if (s === '') return {};
  let text: string;
  try {
    // base64url (what the docker CLI sends) or standard base64, padded or not.
    text = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    return JSON.parse(text);
  } catch {
    try {
      // Some clients send the JSON itself.
      return JSON.parse(s);
    } catch (err) {
      throw new InvalidArgumentError(`invalid ${what} header: ${(err as Error).message}`, { cause: err });
    }
  }
}

function toAuthConfig(v: unknown, what: string): AuthConfig {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`invalid ${what} header: not a JSON object`);
  const o = v as Record<string, unknown>;
  const cfg: AuthConfig = {};
  // Docker accepts the fields in any case (Go's JSON decoder is case-insensitive).
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== 'string') continue;
    const key = k.toLowerCase() as keyof AuthConfig;
    if (['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'].includes(key)) cfg[key] = val;
  }
  return cfg;
}

/** Decodes the engine's `X-Registry-Auth` header (base64url JSON AuthConfig); empty gives `{}`. */
export function decodeRegistryAuth(header: string | undefined): AuthConfig {
  if (!header) return {};
  return toAuthConfig(decodeBase64Json(header, 'X-Registry-Auth'), 'X-Registry-Auth');
}

/** Encodes an AuthConfig as the docker CLI does for `X-Registry-Auth` (base64url of the JSON). */
export function encodeRegistryAuth(cfg: AuthConfig): string {
  return Buffer.from(JSON.stringify(cfg)).toString('base64url');
}

/** Decodes `X-Registry-Config` (build): a map from server address to AuthConfig. */
export function decodeRegistryConfig(header: string | undefined): Record<string, AuthConfig> {
  if (!header) return {};
  const v = decodeBase64Json(header, 'X-Registry-Config');
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError('invalid X-Registry-Config header: not a JSON object');
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, c]) => [k, toAuthConfig(c, 'X-Registry-Config')]));
}

/** A fixed set of credentials keyed by host or server address (any spelling config.json uses). */
export function staticCredentials(entries: Record<string, AuthConfig>): CredentialStore {
  const map = new Map(Object.entries(entries).map(([k, v]) => [serverKey(k), normalizeAuthConfig(v)]));
  return { get: async (host) => map.get(serverKey(host)) };
}

/** Tries several stores in order; the first that has credentials wins. */
export function chainCredentials(...stores: (CredentialStore | undefined)[]): CredentialStore {
  const list = stores.filter((s): s is CredentialStore => s !== undefined);
  return {
    get: async (host) => {
      for (const s of list) {
        const c = await s.get(host);
        if (hasCredentials(c)) return c;
      }
      return undefined;
    },
  };
}

interface DockerConfigFile {
  auths?: Record<string, AuthConfig>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** The default config.json: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function defaultDockerConfigPath(): string {
  return path.join(process.env.DOCKER_CONFIG ?? path.join(homedir(), '.docker'), 'config.json');
}

/**
 * Credentials from a docker-style config.json, read on each lookup (so a `docker login` in between is seen).
 * A missing file means no credentials; a malformed one is an error naming the file.
 */
export function dockerConfigCredentials(file = defaultDockerConfigPath()): CredentialStore {
  return {
    async get(host) {
      let cfg: DockerConfigFile;
      try {
        cfg = JSON.parse(readFileSync(file, 'utf8')) as DockerConfigFile;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new InvalidArgumentError(`read credentials from ${file}: ${(err as Error).message}`, { cause: err });
      }
      const key = serverKey(host);
      const helper = Object.entries(cfg.credHelpers ?? {}).find(([k]) => serverKey(k) === key)?.[1];
      if (helper) return credentialHelperGet(helper, key);
      const entry = Object.entries(cfg.auths ?? {}).find(([k]) => serverKey(k) === key)?.[1];
      if (entry && (entry.auth || entry.username || entry.identitytoken || entry.registrytoken)) {
        return normalizeAuthConfig({ ...entry, serveraddress: key });
      }
      if (cfg.credsStore) return credentialHelperGet(cfg.credsStore, key);
      return undefined;
    },
  };
}

/** Runs `docker-credential-<helper> get` with the server key on stdin (the credential helper protocol). */
export async function credentialHelperGet(helper: string, key: string): Promise<AuthConfig | undefined> {
  const bin = `docker-credential-${helper}`;
  const out = await new Promise<string>((resolve, reject) => {
    const child = execFile(bin, ['get'], { timeout: 30_000 }, (err, stdout, stderr) => {
      const text = `${stdout}`.trim();
      if (err) {
        if (/credentials not found/i.test(text) || /credentials not found/i.test(`${stderr}`)) resolve('');
        else reject(new UnavailableError(`credential helper ${bin}: ${`${stderr}`.trim() || text || err.message}`, { cause: err }));
        return;
      }
      resolve(text);
    });
    child.stdin?.end(key);
  });
  if (out === '') return undefined;
  const r = JSON.parse(out) as { ServerURL?: string; Username?: string; Secret?: string };
  if (r.Username === '<token>') return { identitytoken: r.Secret ?? '', serveraddress: key };
  return { username: r.Username ?? '', password: r.Secret ?? '', serveraddress: key };
}
