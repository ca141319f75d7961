/**
 * The OCI distribution spec's error body (`{"errors":[{"code","message","detail"}]}`) and an error class
 * that carries it. Messages read as Docker prints them: `manifest unknown: manifest unknown`.
 */
import { OciError, type OciErrorCode } from './errors.ts';

export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'MANIFEST_UNVERIFIED'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'UNKNOWN';

export interface RegistryErrorEntry {
  code: RegistryErrorCode | string;
  message?: string;
  detail?: unknown;
}

export interface RegistryErrorBody {
  errors: RegistryErrorEntry[];
}

/** The HTTP status a registry answers each error code with (distribution spec). */
export const registryErrorStatus: Record<RegistryErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 404,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  MANIFEST_UNVERIFIED: 400,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  UNKNOWN: 500,
};

const codeClass: Record<string, OciErrorCode> = {
  BLOB_UNKNOWN: 'not_found',
  BLOB_UPLOAD_UNKNOWN: 'not_found',
  MANIFEST_BLOB_UNKNOWN: 'not_found',
  MANIFEST_UNKNOWN: 'not_found',
  NAME_UNKNOWN: 'not_found',
  BLOB_UPLOAD_INVALID: 'invalid_argument',
  DIGEST_INVALID: 'invalid_argument',
  MANIFEST_INVALID: 'invalid_argument',
  MANIFEST_UNVERIFIED: 'invalid_argument',
  NAME_INVALID: 'invalid_argument',
  SIZE_INVALID: 'invalid_argument',
  TAG_INVALID: 'invalid_argument',
  UNAUTHORIZED: 'unauthorized',
  DENIED: 'permission_denied',
  UNSUPPORTED: 'not_implemented',
  TOOMANYREQUESTS: 'resource_exhausted',
};

function statusClass(status: number): OciErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'permission_denied';
  if (status === 404) return 'not_found';
  if (status === 405) return 'not_implemented';
  if (status === 429) return 'resource_exhausted';
  if (status >= 400 && status < 500) return 'invalid_argument';
  if (status === 502 || status === 503 || status === 504) return 'unavailable';
  return 'internal';
}

/** `MANIFEST_UNKNOWN` → `manifest unknown` (distribution's ErrorCode.Error()). */
export function registryCodeText(code: string): string {
  return code.toLowerCase().replaceAll('_', ' ');
}

/** One entry as Docker prints it: `manifest unknown: manifest unknown`. */
export function formatRegistryErrorEntry(e: RegistryErrorEntry): string {
  return `${registryCodeText(e.code)}: ${e.message ?? registryCodeText(e.code)}`;
}

/** A registry's error answer. `code` follows the first entry's class, else the HTTP status. */
export class RegistryError extends OciError {
  readonly status: number;
  readonly errors: RegistryErrorEntry[];

  constructor(status: number, errors: RegistryErrorEntry[], message?: string) {
    const first = errors[0];
    const text = message ?? (errors.length === 0
      ? `unexpected status ${status}`
      : errors.length === 1 ? formatRegistryErrorEntry(first!) : `errors:\n${errors.map(formatRegistryErrorEntry).join('\n')}\n`);
    super((first && codeClass[first.code]) ?? statusClass(status), text);
    this.status = status;
    this.errors = errors;
  }

  /** True if any entry has one of the codes. */
  has(...codes: RegistryErrorCode[]): boolean {
    return this.errors.some((e) => (codes as string[]).includes(e.code));
  }
}

/**
 * Builds a RegistryError from an HTTP status and response body (JSON per the spec; anything else becomes
 * the message, trimmed). Never throws on a malformed body.
 */
export function parseRegistryError(status: number, body: string | Uint8Array | unknown): RegistryError {
  let doc: unknown = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
    try {
      doc = JSON.parse(text);
    } catch {
      const t = text.trim().slice(0, 512);
      return new RegistryError(status, [], t ? `unexpected status ${status}: ${t}` : undefined);
    }
  }
  const errors = (doc as Partial<RegistryErrorBody> | null)?.errors;
  if (Array.isArray(errors)) {
    const entries = errors
      .filter((e): e is RegistryErrorEntry => e !== null && typeof e === 'object' && typeof (e as RegistryErrorEntry).code === 'string')
      .map((e) => ({ code: e.code, ...(typeof e.message === 'string' ? { message: e.message } : {}), ...(e.detail !== undefined ? { detail: e.detail } : {}) }));
    return new RegistryError(status, entries);
  }
  return new RegistryError(status, []);
}

/** The body a registry (or berth acting as one) sends for an error. */
export function registryErrorBody(code: RegistryErrorCode, message?: string, detail?: unknown): RegistryErrorBody {
  return { errors: [{ code, message: message ?? registryCodeText(code), ...(detail === undefined ? {} : { detail }) }] };
}
