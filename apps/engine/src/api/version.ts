/**
 * API version negotiation as dockerd does it: paths may carry `/v<major>.<minor>/`; without it the request is
 * served at the newest version. A version above the maximum is refused with Docker's message, one below the
 * minimum likewise; the version a request runs at shapes a few responses (content types, fields).
 */
import type { IncomingMessage } from 'node:http';
import { InvalidArgumentError } from '@berth/errdefs';

/** The newest API version berthd implements (what `/_ping` and `/version` advertise). */
export const API_VERSION = '1.47';
/** The oldest version accepted. */
export const MIN_API_VERSION = '1.24';

const VERSION_PREFIX = /^\/v(\d+(?:\.\d+)*)(?=\/)/;
const API_VERSION_KEY = Symbol('berth.apiVersion');

type VersionedRequest = IncomingMessage & { [API_VERSION_KEY]?: string };

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function versionAtLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

/**
 * fastify's `rewriteUrl`: strips the version prefix and remembers the version on the raw request, so one route
 * table serves `/v1.47/containers/json` and `/containers/json`.
 */
export function stripVersion(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const m = VERSION_PREFIX.exec(url);
  if (!m) return url;
  (req as VersionedRequest)[API_VERSION_KEY] = m[1]!;
  return url.slice(m[0].length);
}

/** The version a request asked for (`undefined`: unversioned path). */
export function requestedVersion(req: IncomingMessage): string | undefined {
  return (req as VersionedRequest)[API_VERSION_KEY];
}

/** The version a request runs at. */
export function apiVersionOf(req: IncomingMessage): string {
  return requestedVersion(req) ?? API_VERSION;
}

/** Throws Docker's errors for versions out of range. */
export function checkVersion(version: string | undefined): void {
  if (version === undefined) return;
  if (compareVersions(version, API_VERSION) > 0) {
    throw new InvalidArgumentError(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new InvalidArgumentError(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
}
