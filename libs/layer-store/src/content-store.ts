/**
 * The content store: immutable blobs addressed by digest, written through ingests (containerd's content.Store,
 * the shape runtimed's Content gRPC service serves).
 *
 * Vocabulary:
 * - a *blob* is committed content, found by its digest, with `labels` (garbage-collection references live here,
 *   see gc.ts) and created/updated times;
 * - an *ingest* is content being written, found by its `ref` (a client-chosen key such as
 *   `layer-sha256:…`); it has an `offset` (bytes written), an optional `total` and `expected` digest; it survives
 *   a crash or a dropped client and can be resumed by opening a writer with the same ref;
 * - a *writer* holds an ingest's lock: a second writer on the same ref fails with UnavailableError until the
 *   first is closed (that is how concurrent fetches of one blob are deduplicated); `commit` verifies size and
 *   digest, makes the data durable (fsync) and moves it into place atomically (rename).
 */
import type { Readable } from 'node:stream';
import type { Digest } from '@berth/oci';

export interface ContentInfo {
  digest: Digest;
  size: number;
  createdAt: Date;
  updatedAt: Date;
  labels: Record<string, string>;
}

export interface IngestStatus {
  ref: string;
  /** Bytes written so far. */
  offset: number;
  /** Expected total size, 0 if unknown. */
  total: number;
  /** Expected digest, if given when the ingest started. */
  expected?: Digest;
  startedAt: Date;
  updatedAt: Date;
}

export interface WriterOptions {
  ref: string;
  /** The digest the content must have (checked at commit; an existing blob with it → AlreadyExistsError). */
  expected?: Digest;
  /** The size the content must have (0 or absent: unknown). */
  total?: number;
}

export interface CommitOptions {
  /** Size to verify (0 or absent: not checked). */
  size?: number;
  /** Digest to verify (absent: the writer's `expected`, if any). */
  expected?: Digest;
  labels?: Record<string, string>;
}

export interface ContentWriter {
  readonly ref: string;
  /** Appends at the current offset; once this resolves the writer holds no reference to `data`. */
  write(data: Uint8Array): Promise<void>;
  /** Discards what was written (only 0 is supported, as in containerd). */
  truncate(size: 0): Promise<void>;
  status(): IngestStatus;
  /** Digest of what has been written so far. */
  digest(): Digest;
  /** Verifies, makes durable, moves into place; the writer is closed afterwards. AlreadyExistsError if the blob already exists. */
  commit(opts?: CommitOptions): Promise<ContentInfo>;
  /** Releases the lock; the ingest stays and can be resumed. */
  close(): Promise<void>;
}

export interface ReaderAt {
  readonly size: number;
  /** Up to `length` bytes at `offset` (fewer only at the end). */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface ContentStore {
  info(digest: Digest): Promise<ContentInfo>;
  /**
   * Replaces labels. `fieldpaths` as in containerd (`labels` or `labels.<key>`); absent or empty: all labels.
   * An empty label value deletes the label.
   */
  update(info: { digest: Digest; labels: Record<string, string> }, fieldpaths?: string[]): Promise<ContentInfo>;
  /** Visits every blob (optionally only those the filter accepts). */
  walk(fn: (info: ContentInfo) => void | Promise<void>, filter?: (info: ContentInfo) => boolean): Promise<void>;
  delete(digest: Digest): Promise<void>;
  readerAt(digest: Digest): Promise<ReaderAt>;
  /** A stream of the blob, optionally a range [offset, offset+length). */
  read(digest: Digest, range?: { offset?: number; length?: number }): Readable;
  writer(opts: WriterOptions): Promise<ContentWriter>;
  status(ref: string): Promise<IngestStatus>;
  listStatuses(filter?: (status: IngestStatus) => boolean): Promise<IngestStatus[]>;
  /** Removes an ingest (its writer, if open, fails from then on). */
  abort(ref: string): Promise<void>;
}
