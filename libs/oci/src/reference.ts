/**
 * Image references with Docker's grammar and normalization (distribution/reference):
 * `busybox` → `docker.io/library/busybox:latest`; `host:port/ns/name:tag@sha256:…`.
 * Vocabulary: the *domain* is the registry host (with port), the *path* the repository path inside it,
 * the *name* is `domain/path`; a reference may carry a tag, a digest, or both.
 */
import { parseDigest, type Digest } from './digest.ts';
import { InvalidReferenceError } from './errors.ts';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
/** Longest allowed name (domain/path), as in distribution/reference. */
export const NAME_TOTAL_LENGTH_MAX = 255;

export const ERR_REFERENCE_INVALID_FORMAT = 'invalid reference format';
export const ERR_TAG_INVALID_FORMAT = 'invalid tag format';
export const ERR_NAME_CONTAINS_UPPERCASE = 'repository name must be lowercase';
export const ERR_NAME_EMPTY = 'repository name must have at least one component';
export const ERR_NAME_TOO_LONG = `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`;

export interface Reference {
  /** Registry host with optional port; '' only for references parsed without normalization that have none. */
  domain: string;
  /** Repository path, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  digest?: Digest;
}

// The grammar of distribution/reference, as regular expressions.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const namePat = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;

const referenceRegexp = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredTagRegexp = new RegExp(`^${tagPat}$`);
const anchoredNameRegexp = new RegExp(`^(?:(${domainAndPort})/)?(${pathComponent}(?:/${pathComponent})*)$`);
const anchoredIdentifierRegexp = /^[a-f0-9]{64}$/;

/** True for a 64-hex image ID (which Docker refuses as a repository name). */
export function isImageIdentifier(s: string): boolean {
  return anchoredIdentifierRegexp.test(s);
}

/** True if `s` is a valid tag. */
export function isValidTag(s: string): boolean {
  return anchoredTagRegexp.test(s);
}

/**
 * Parses a reference exactly as written (distribution/reference `Parse`): no domain is added, so
 * `busybox` has domain '' and path `busybox`. Use `parseNormalizedReference` for user input.
 */
export function parseReference(s: string): Reference {
  const m = referenceRegexp.exec(s);
  if (!m) {
    if (s === '') throw new InvalidReferenceError(ERR_NAME_EMPTY);
    if (referenceRegexp.test(s.toLowerCase())) throw new InvalidReferenceError(ERR_NAME_CONTAINS_UPPERCASE);
    throw new InvalidReferenceError(ERR_REFERENCE_INVALID_FORMAT);
  }
  const name = m[1]!;
  if (name.length > NAME_TOTAL_LENGTH_MAX) throw new InvalidReferenceError(ERR_NAME_TOO_LONG);
  const nm = anchoredNameRegexp.exec(name)!;
  const ref: Reference = { domain: nm[1] ?? '', path: nm[2]! };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) {
    try {
      ref.digest = parseDigest(m[3]);
    } catch (err) {
      throw new InvalidReferenceError((err as Error).message, { cause: err });
    }
  }
  return ref;
}

/** Splits a possibly familiar name into domain and remainder, as Docker does (`busybox` → docker.io, library/busybox). */
export function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash < 0) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  const maybeDomain = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (maybeDomain === 'localhost') {
    [domain, remainder] = [maybeDomain, rest];
  } else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) {
    [domain, remainder] = [DEFAULT_DOMAIN, rest];
  } else if (/[.:]/.test(maybeDomain) || maybeDomain.toLowerCase() !== maybeDomain) {
    [domain, remainder] = [maybeDomain, rest];
  } else {
    [domain, remainder] = [DEFAULT_DOMAIN, name];
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * Parses user input with Docker's normalization (distribution/reference `ParseNormalizedNamed`):
 * `busybox` → docker.io/library/busybox, `index.docker.io/x` → docker.io/library/x. Adds no tag
 * (see `withDefaultTag`). Errors carry the Docker daemon's messages, e.g.
 * `invalid reference format: repository name (library/Busybox) must be lowercase`.
 */
export function parseNormalizedReference(s: string): Reference {
  if (isImageIdentifier(s)) {
    throw new InvalidReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw new InvalidReferenceError(`${ERR_REFERENCE_INVALID_FORMAT}: repository name (${remote}) must be lowercase`);
  }
  return parseReference(`${domain}/${remainder}`);
}

/** Adds the `latest` tag to a reference that has neither tag nor digest (Docker's TagNameOnly). */
export function withDefaultTag(ref: Reference): Reference {
  if (ref.tag === undefined && ref.digest === undefined) return { ...ref, tag: DEFAULT_TAG };
  return ref;
}

/**
 * containerd's ParseDockerRef: normalize, drop the tag when a digest is present (the digest decides), and
 * default the tag to `latest`. What a pull resolves.
 */
export function parseDockerRef(s: string): Reference {
  const ref = parseNormalizedReference(s);
  if (ref.digest !== undefined) return { domain: ref.domain, path: ref.path, digest: ref.digest };
  return withDefaultTag(ref);
}

/** `domain/path` (or just `path` when there is no domain). */
export function referenceName(ref: Reference): string {
  return ref.domain ? `${ref.domain}/${ref.path}` : ref.path;
}

/** The full string: `docker.io/library/busybox:latest`, `host:5000/x@sha256:…`. */
export function formatReference(ref: Reference): string {
  let s = referenceName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The name as Docker displays it: `busybox`, `user/app`, `127.0.0.1:5000/library/busybox`. */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return referenceName(ref);
  const rest = ref.path.startsWith(OFFICIAL_REPO_PREFIX) ? ref.path.slice(OFFICIAL_REPO_PREFIX.length) : ref.path;
  return rest.includes('/') ? ref.path : rest;
}

/** The reference as Docker displays it: `busybox:latest`, `busybox@sha256:…`. */
export function familiarString(ref: Reference): string {
  let s = familiarName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** Normalizes user input to its full string with the default tag: `busybox` → `docker.io/library/busybox:latest`. */
export function normalizeReference(s: string): string {
  return formatReference(withDefaultTag(parseNormalizedReference(s)));
}

/** Validates a tag on its own (e.g. `docker tag x repo:TAG`), with Docker's message. */
export function parseTag(tag: string): string {
  if (!isValidTag(tag)) throw new InvalidReferenceError(ERR_TAG_INVALID_FORMAT);
  return tag;
}
