// The client config file, docker-compatible: `config.json` with `auths`, `credsStore`, `credHelpers`,
// `HttpHeaders`, `psFormat`, `imagesFormat`, `detachKeys`… berth's own lives in ~/.berth (or --config,
// BERTH_CONFIG); credentials missing there are looked up in docker's (DOCKER_CONFIG or ~/.docker) too, so an
// existing `docker login` keeps working. Writes go to berth's file only, atomically.
import type { AuthConfig } from '@berth/docker-api';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ConfigData {
  auths?: Record<string, { auth?: string; identitytoken?: string; email?: string; username?: string; password?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  HttpHeaders?: Record<string, string>;
  psFormat?: string;
  imagesFormat?: string;
  statsFormat?: string;
  detachKeys?: string;
  [key: string]: unknown;
}

/** Docker Hub's credential key in config.json. */
export const INDEX_SERVER = 'https://index.docker.io/v1/';

export function configDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.BERTH_CONFIG || path.join(env.HOME || os.homedir(), '.berth');
}

function dockerConfigDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker');
}

export class ConfigFile {
  readonly file: string;
  data: ConfigData;
  private readonly fallback: ConfigData | undefined;

  constructor(file: string, data: ConfigData, fallback?: ConfigData) {
    this.file = file;
    this.data = data;
    this.fallback = fallback;
  }

  /** Credentials for a registry (`serverAddress` as in config.json's keys), or undefined. */
  getAuth(serverAddress: string): AuthConfig | undefined {
    return lookup(this.data, serverAddress) ?? (this.fallback ? lookup(this.fallback, serverAddress) : undefined);
  }

  /** Every stored credential, for `build`'s X-Registry-Config. */
  allAuths(): Record<string, AuthConfig> {
    const out: Record<string, AuthConfig> = {};
    for (const source of [this.fallback, this.data]) {
      for (const key of Object.keys(source?.auths ?? {})) {
        const a = source ? lookup(source, key) : undefined;
        if (a) out[key] = a;
      }
    }
    return out;
  }

  /** Stores credentials (in the configured credential helper, or base64 in `auths`) and saves the file. */
  storeAuth(serverAddress: string, auth: AuthConfig): void {
    const helper = this.data.credHelpers?.[serverAddress] ?? this.data.credsStore;
    this.data.auths ??= {};
    if (helper) {
      runHelper(helper, 'store', JSON.stringify({ ServerURL: serverAddress, Username: auth.username ?? '<token>', Secret: auth.identitytoken ?? auth.password ?? '' }));
      this.data.auths[serverAddress] = {};
    } else {
      const entry: NonNullable<ConfigData['auths']>[string] = {};
      if (auth.identitytoken) {
        entry.auth = Buffer.from(`${auth.username ?? ''}:`).toString('base64');
        entry.identitytoken = auth.identitytoken;
      } else {
        entry.auth = Buffer.from(`${auth.username ?? ''}:${auth.password ?? ''}`).toString('base64');
      }
      this.data.auths[serverAddress] = entry;
    }
    this.save();
  }

  /** Removes stored credentials; false when there were none in berth's file. */
  eraseAuth(serverAddress: string): boolean {
    const had = this.data.auths?.[serverAddress] !== undefined;
    const helper = this.data.credHelpers?.[serverAddress] ?? this.data.credsStore;
    if (helper) {
      try {
        runHelper(helper, 'erase', serverAddress);
      } catch {
        // already gone from the helper
      }
    }
    if (had) {
      delete this.data.auths![serverAddress];
      this.save();
    }
    return had;
  }

  save(): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(this.data, null, '\t')}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}

export function loadConfigFile(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): ConfigFile {
  const file = path.join(configDir(flag, env), 'config.json');
  const data = readJson(file) ?? {};
  const dockerFile = path.join(dockerConfigDir(env), 'config.json');
  const fallback = path.resolve(dockerFile) === path.resolve(file) ? undefined : readJson(dockerFile);
  return new ConfigFile(file, data, fallback);
}

function readJson(file: string): ConfigData | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as ConfigData;
  } catch (err) {
    throw new Error(`loading config file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The config.json key for a registry: Docker Hub's is its v1 URL; others are the host[:port]. */
export function registryKey(registry: string): string {
  const host = registry.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (host === '' || host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io') return INDEX_SERVER;
  return host;
}

function lookup(data: ConfigData, serverAddress: string): AuthConfig | undefined {
  const key = registryKey(serverAddress);
  const helper = data.credHelpers?.[key] ?? data.credsStore;
  if (helper) {
    try {
      const out = runHelper(helper, 'get', key);
      const parsed = JSON.parse(out) as { Username: string; Secret: string };
      if (parsed.Username === '<token>') return { identitytoken: parsed.Secret, serveraddress: key };
      return { username: parsed.Username, password: parsed.Secret, serveraddress: key };
    } catch {
      // fall through to the file's own entries
    }
  }
  const auths = data.auths ?? {};
  const entry = auths[key] ?? Object.entries(auths).find(([k]) => registryKey(k) === key)?.[1];
  if (!entry) return undefined;
  const out: AuthConfig = { serveraddress: key };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    out.username = i < 0 ? decoded : decoded.slice(0, i);
    out.password = i < 0 ? '' : decoded.slice(i + 1);
  }
  if (entry.username) out.username = entry.username;
  if (entry.password) out.password = entry.password;
  if (entry.identitytoken) out.identitytoken = entry.identitytoken;
  if (entry.email) out.email = entry.email;
  return out;
}

function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): string {
  const { spawnSync } = process.getBuiltinModule('node:child_process');
  const r = spawnSync(`docker-credential-${helper}`, [action], { input, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`docker-credential-${helper} ${action}: ${(r.stdout || r.stderr).trim()}`);
  return r.stdout;
}
