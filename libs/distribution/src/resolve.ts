/**
 * Resolving a reference to the manifest to pull: pick the endpoint (mirrors, https→http for insecure
 * registries, falling back as dockerd does), fetch the manifest by tag or digest (verified), and for an index
 * or manifest list select the entry for the platform and fetch that manifest too.
 * Errors carry Docker's wording: `manifest for 127.0.0.1:5000/x:latest not found: manifest unknown: manifest
 * unknown`, `pull access denied for x, repository does not exist or may require 'docker login': denied: …`,
 * `no matching manifest for linux/arm64/v8 in the manifest list entries`.
 */
import { type BerthError, NotFoundError, NotImplementedError, codeOf } from '@berth/errdefs';
import {
  type Descriptor, type ImageIndex, type ImageManifest, type Platform, type Reference, familiarName, familiarString,
  formatPlatform, formatReference, parseManifest, selectPlatformEntry,
} from '@berth/oci';
import type { Authorizer } from './auth.ts';
import type { AuthConfig, CredentialStore } from './credentials.ts';
import { registryErrorCode, registryErrorStatus, withMessage } from './errors.ts';
import type { Endpoint, RegistryHosts } from './hosts.ts';
import { RegistryRepository } from './repository.ts';
import type { Transport } from './transport.ts';

export interface ResolvedImage {
  reference: Reference;
  /** The repository on the endpoint that answered (blobs are fetched from it too). */
  repository: RegistryRepository;
  /** What the reference names: an index/manifest list or a manifest. */
  target: Descriptor;
  targetBytes: Buffer;
  /** The platform's manifest (the target itself when it is a manifest). */
  manifest: Descriptor;
  manifestBytes: Buffer;
  parsed: ImageManifest;
  index?: ImageIndex;
}

export interface SessionDeps {
  transport: Transport;
  authorizer: Authorizer;
  hosts: RegistryHosts;
  credentials?: CredentialStore;
}

/** Credentials for an endpoint: the call's own, else the store's for the reference's domain, else the endpoint's host. */
export async function credentialsFor(
  deps: SessionDeps, domain: string, endpoint: Endpoint, auth?: AuthConfig,
): Promise<AuthConfig | undefined> {
  if (auth && (auth.username || auth.password || auth.auth || auth.identitytoken || auth.registrytoken)) return auth;
  const store = deps.credentials;
  if (!store) return undefined;
  return (await store.get(domain)) ?? (endpoint.host !== domain ? await store.get(endpoint.host) : undefined);
}

function isConnectionFailure(err: unknown): boolean {
  return registryErrorStatus(err) === undefined && (codeOf(err) === 'unavailable' || codeOf(err) === 'deadline_exceeded');
}

/**
 * Runs `fn` against the endpoints of a registry in order until one succeeds, with dockerd's fallback rules:
 * a mirror's failure of any kind falls through to the next endpoint; an https endpoint of an insecure
 * registry falls through to http only when it could not be talked to (TLS or connection failure).
 * When every endpoint fails, the most telling error is reported: the registry's own answer over a later
 * endpoint's unreachability.
 */
export async function withEndpoints<T>(
  deps: SessionDeps,
  ref: Reference,
  purpose: 'pull' | 'push',
  auth: AuthConfig | undefined,
  fn: (repo: RegistryRepository) => Promise<T>,
): Promise<T> {
  const endpoints = deps.hosts.endpoints(ref.domain, purpose);
  const failures: { endpoint: Endpoint; err: unknown }[] = [];
  for (const [i, endpoint] of endpoints.entries()) {
    const creds = await credentialsFor(deps, ref.domain, endpoint, auth);
    const repo = new RegistryRepository({
      transport: deps.transport, authorizer: deps.authorizer, endpoint, path: ref.path, creds,
      actions: purpose === 'push' ? ['pull', 'push'] : ['pull'],
    });
    try {
      return await fn(repo);
    } catch (err) {
      failures.push({ endpoint, err });
      const last = i === endpoints.length - 1;
      const next = endpoints[i + 1];
      const tlsFallback = next && !endpoint.mirror && endpoint.origin.startsWith('https:') && next.origin.startsWith('http:');
      if (tlsFallback && isTlsProtocolFailure(err)) deps.hosts.markPlainHttp(endpoint.host);
      if (last) throw reportableError(failures);
      if (!(endpoint.mirror || (tlsFallback && isConnectionFailure(err)))) throw err;
    }
  }
  throw new Error(`no endpoints for ${ref.domain}`);
}

/** A TLS handshake that failed because the server does not speak TLS (a plain-HTTP registry). */
function isTlsProtocolFailure(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(e.message)) return true;
  }
  return false;
}

/** Picks the error to report when every endpoint failed (see withEndpoints). */
export function reportableError(failures: { endpoint: Endpoint; err: unknown }[]): unknown {
  const last = failures.at(-1)!;
  if (!isConnectionFailure(last.err)) return last.err;
  const answered = failures.find((f) => !isConnectionFailure(f.err));
  if (!answered) return last.err;
  const msg = answered.err instanceof Error ? answered.err.message : String(answered.err);
  const lastMsg = last.err instanceof Error ? last.err.message : String(last.err);
  return withMessage(answered.err, `${msg} (from ${answered.endpoint.origin}; ${lastMsg})`);
}

/**
 * The error a failed manifest fetch becomes, in Docker's words. Registry answers that mean "no such
 * manifest/repository" or "denied" get Docker's `manifest for … not found` / `pull access denied for …`.
 */
export function translatePullError(err: unknown, ref: Reference, anonymous = false): unknown {
  const code = registryErrorCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  // Docker answers all three with 404, as it cannot tell a missing repository from a hidden one.
  switch (code) {
    case 'MANIFEST_UNKNOWN':
      return new NotFoundError(`manifest for ${familiarString(ref)} not found: ${msg}`, { cause: err });
    case 'NAME_UNKNOWN':
      return new NotFoundError(`repository ${familiarName(ref)} not found: ${msg}`, { cause: err });
    case 'DENIED':
      return new NotFoundError(`pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${msg}`, { cause: err });
    case 'UNAUTHORIZED':
      // An anonymous token without the scope: the repository is private or absent (dockerd says it like DENIED).
      if (anonymous && registryErrorStatus(err) === 401) {
        return new NotFoundError(
          `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
          { cause: err },
        );
      }
  }
  return err;
}

function schema1Error(ref: Reference): BerthError {
  return new NotImplementedError(
    '[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. '
    + `Suggest the author of ${familiarString(ref)} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2.`,
  );
}

/** Fetches and selects, on one repository (endpoint already chosen). */
export async function resolveOn(
  repo: RegistryRepository, ref: Reference, platform: Platform, signal?: AbortSignal,
): Promise<ResolvedImage> {
  const reference = ref.digest ?? ref.tag ?? 'latest';
  let fetched;
  try {
    fetched = await repo.getManifest(reference, signal);
  } catch (err) {
    throw translatePullError(err, ref, repo.anonymous);
  }
  const parsed = parseManifest(fetched.bytes, fetched.descriptor.mediaType);
  const target = { ...fetched.descriptor, mediaType: parsed.mediaType };
  if (parsed.kind === 'schema1') throw schema1Error(ref);
  if (parsed.kind === 'manifest') {
    return {
      reference: ref, repository: repo, target, targetBytes: fetched.bytes,
      manifest: target, manifestBytes: fetched.bytes, parsed: parsed.manifest,
    };
  }
  const entry = selectPlatformEntry(parsed.index.manifests, platform);
  if (!entry) throw new NotFoundError(`no matching manifest for ${formatPlatform(platform)} in the manifest list entries`);
  let child;
  try {
    child = await repo.getManifest(entry.digest, signal);
  } catch (err) {
    throw translatePullError(err, ref, repo.anonymous);
  }
  const childParsed = parseManifest(child.bytes, entry.mediaType);
  if (childParsed.kind !== 'manifest') {
    throw new NotImplementedError(`${formatReference(ref)}: index entry ${entry.digest} is a ${childParsed.mediaType}, not an image manifest`);
  }
  return {
    reference: ref, repository: repo, target, targetBytes: fetched.bytes,
    manifest: {
      mediaType: childParsed.mediaType, digest: entry.digest, size: child.bytes.length,
      ...(entry.platform ? { platform: entry.platform } : {}),
    },
    manifestBytes: child.bytes, parsed: childParsed.manifest, index: parsed.index,
  };
}
