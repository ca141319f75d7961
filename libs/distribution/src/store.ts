/**
 * What the registry client needs from a content store, as a narrow interface (the content store of
 * @berth/layer-store satisfies it through `blobStoreOf`). Vocabulary: a blob is *committed* once verified
 * and visible by digest; an *ingest* is a write in progress, named by a ref so an interrupted one can resume.
 */
import type { Readable } from 'node:stream';
import { LABEL_DISTRIBUTION_SOURCE_PREFIX } from '@berth/layer-store';
import type { Descriptor, Digest } from '@berth/oci';

export interface BlobIngest {
  /** Bytes already held (an earlier interrupted ingest of the same ref); writing continues from here. */
  readonly offset: number;
  /** The blob is already committed (e.g. another pull wrote it meanwhile): nothing to write, commit only labels. */
  readonly exists?: boolean;
  /** Appends `chunk`; once this resolves the ingest holds no reference to it (the caller may reuse it). */
  write(chunk: Buffer): Promise<void>;
  /**
   * Checks what was written against the descriptor's size and digest without committing (the FailedPreconditionError
   * commit would give), so consumers of the bytes can go on while the commit makes them durable.
   */
  verify(): void;
  /**
   * Verifies size and digest against the descriptor and makes the blob visible; fails (and discards) otherwise.
   * True when this ingest created the blob (false: it was there already).
   */
  commit(): Promise<boolean>;
  /** Drops the ingest and its data. */
  abort(): Promise<void>;
}

export interface AnyIngest {
  write(chunk: Buffer): Promise<void>;
  commit(labels?: Record<string, string>): Promise<{ digest: Digest; size: number; created: boolean }>;
  abort(): Promise<void>;
}

export interface BlobStore {
  /** The committed blob's size, or undefined when absent. */
  stat(digest: Digest): Promise<{ size: number } | undefined>;
  /** Reads a committed blob, or the range [offset, offset+length) of it. */
  read(digest: Digest, range?: { offset?: number; length?: number }): Promise<Readable>;
  /** Reads a small committed blob whole. */
  readAll(digest: Digest): Promise<Buffer>;
  /** Opens (or resumes) an ingest for the blob `desc` describes. */
  ingest(ref: string, desc: Descriptor, labels?: Record<string, string>): Promise<BlobIngest>;
  /** Opens an ingest whose digest is learnt from the content (archives); commit tells the digest. */
  ingestAny(ref: string): Promise<AnyIngest>;
  /** Stores a small blob whole (verified). Present already: only the labels are merged. True when created. */
  put(desc: Descriptor, data: Buffer, labels?: Record<string, string>): Promise<boolean>;
  /** Removes a blob (absent: no error). */
  delete(digest: Digest): Promise<void>;
  /** Merges labels into a committed blob's. */
  label(digest: Digest, labels: Record<string, string>): Promise<void>;
  /** A committed blob's labels. */
  labels(digest: Digest): Promise<Record<string, string>>;
}

/** `containerd.io/distribution.source.<registry host>` = comma-separated repository paths the blob came from. */
export const labelDistributionSource = (host: string) => `${LABEL_DISTRIBUTION_SOURCE_PREFIX}${host}`;
