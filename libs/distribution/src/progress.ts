/**
 * Progress of pulls and pushes, in Docker's vocabulary so the engine can forward it as Docker's JSON progress
 * (`{"status":"Downloading","progressDetail":{"current":…,"total":…},"id":"7b3c3b06687a"}`).
 *
 * Per-layer statuses, pull: `Pulling fs layer`, `Waiting`, `Downloading`, `Retrying in N seconds`,
 * `Verifying Checksum`, `Download complete`, `Extracting`, `Pull complete`, `Already exists`.
 * Push: `Preparing`, `Waiting`, `Pushing`, `Pushed`, `Layer already exists`, `Mounted from <repo>`.
 * Image-level lines have `id` '' (or the tag for `Pulling from …`), e.g. `Digest: sha256:…`.
 */
import type { Digest } from '@berth/oci';

export interface ProgressEvent {
  /** The layer's short id (the first 12 hex digits of its digest), the tag for `Pulling from`, else ''. */
  id: string;
  status: string;
  current?: number;
  total?: number;
  /** The full digest of the blob a per-layer line is about. */
  digest?: Digest;
}

export type ProgressHandler = (e: ProgressEvent) => void;

/** `sha256:7b3c3b06687a…` → `7b3c3b06687a` (Docker's stringid.TruncateID). */
export function shortId(d: Digest | string): string {
  const i = d.indexOf(':');
  return d.slice(i + 1, i + 13);
}

/** Emits byte counts for one blob at most every `intervalMs` (and always the last one). */
export class ByteProgress {
  private last = 0;
  private readonly emit: ProgressHandler | undefined;
  private readonly status: string;
  private readonly digest: Digest;
  private readonly total: number;
  private readonly intervalMs: number;

  constructor(emit: ProgressHandler | undefined, status: string, digest: Digest, total: number, intervalMs = 100) {
    this.emit = emit;
    this.status = status;
    this.digest = digest;
    this.total = total;
    this.intervalMs = intervalMs;
  }

  update(current: number, force = false): void {
    if (!this.emit) return;
    const now = Date.now();
    if (!force && now - this.last < this.intervalMs && current < this.total) return;
    this.last = now;
    this.emit({ id: shortId(this.digest), status: this.status, current, total: this.total, digest: this.digest });
  }
}

/** A handler that never lets a throwing consumer break the operation it observes. */
export function safeHandler(h: ProgressHandler | undefined): ProgressHandler | undefined {
  if (!h) return undefined;
  return (e) => {
    try {
      h(e);
    } catch {
      // Progress is advisory.
    }
  };
}
