/**
 * The namespaced content store: per-namespace metadata rows (SQLite, with each namespace's own labels) over
 * one blob store (@berth/layer-store's LocalContentStore: ingests by ref, verified atomic commits). Backend
 * refs are `<namespace>/<ref>`. Commits under a lease add the blob to the lease. Content already on disk for
 * another namespace is shared: opening a writer for it records it in the namespace and reports AlreadyExists.
 */
import { rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError, isNotFound } from '@berth/errdefs';
import type { ContentInfo, ContentStatus } from '@berth/containerd-api';
import { toTimestamp } from '@berth/containerd-api';
import type { LocalContentStore } from '@berth/layer-store';
import { type ContentWriter as BlobWriter, type IngestStatus } from '@berth/layer-store';
import { isDigest, type Digest } from '@berth/oci';
import type { Logger } from 'pino';
import type { EventBus } from '../events.ts';
import type { GcBackend, SweepPlan } from '../gc.ts';
import type { ContentMeta } from '../metadata/content-meta.ts';
import { compileFilters } from '../metadata/filters.ts';
import type { Labels } from '../metadata/labels.ts';
import type { LeaseStore } from '../metadata/leases.ts';
import type { NamespaceStore } from '../metadata/namespaces.ts';

interface Deps {
  meta: ContentMeta;
  blobs: LocalContentStore;
  leases: LeaseStore;
  namespaces: NamespaceStore;
  events: EventBus;
  log: Logger;
}

export interface WriterOptions { expected?: string; total?: number; lease?: string | undefined }

export function validateDigest(digest: string): Digest {
  if (!isDigest(digest)) throw new InvalidArgumentError(`digest ${JSON.stringify(digest)}: invalid`);
  return digest;
}

const backendRef = (ns: string, ref: string) => `${ns}/${ref}`;
/** Reads up to this size are served in one synchronous read (see readSmall). */
const SMALL_READ = 64 * 1024;

function toStatus(ref: string, s: IngestStatus): ContentStatus {
  return {
    ref, offset: s.offset, total: s.total, expected: s.expected ?? '', startedAt: toTimestamp(s.startedAt), updatedAt: toTimestamp(s.updatedAt),
  };
}

/** An open writer for one (namespace, ref). */
export class ContentWriter {
  private readonly mgr: ContentManager;
  readonly ns: string;
  readonly ref: string;
  private readonly w: BlobWriter;
  private readonly lease: string | undefined;
  readonly startedAt: Date;
  total: number;
  expected: string;

  constructor(mgr: ContentManager, ns: string, ref: string, w: BlobWriter, lease: string | undefined, total: number, expected: string) {
    this.mgr = mgr;
    this.ns = ns;
    this.ref = ref;
    this.w = w;
    this.lease = lease;
    this.total = total;
    this.expected = expected;
    this.startedAt = w.status().startedAt;
  }

  get offset(): number {
    return this.w.status().offset;
  }

  digest(): string {
    return this.w.digest();
  }

  write(data: Buffer): Promise<void> {
    return this.w.write(data);
  }

  truncate(): Promise<void> {
    return this.w.truncate(0);
  }

  /** Verifies, moves the blob into place and records it in the namespace; the writer is closed after. */
  async commit(size: number, expected: string, labels: Labels): Promise<ContentInfo> {
    const want = (expected || this.expected || undefined) as Digest | undefined;
    const offset = this.offset;
    this.mgr.committing++;
    try {
      const info = await this.w.commit({ size: size || this.total, ...(want ? { expected: want } : {}) });
      this.mgr.forgetIngest(this.ns, this.ref);
      return this.mgr.record(this.ns, info.digest, info.size, labels, this.lease);
    } catch (err) {
      if (err instanceof AlreadyExistsError) {
        // Someone committed the same bytes first (without an expected digest: the one the bytes hash to): record
        // ours in the namespace and report it as containerd does.
        this.mgr.forgetIngest(this.ns, this.ref);
        this.mgr.record(this.ns, want ?? this.w.digest(), offset, labels, this.lease);
      }
      throw err;
    } finally {
      this.mgr.committing--;
    }
  }

  async close(): Promise<void> {
    await this.w.close();
  }
}

export class ContentManager implements GcBackend {
  private readonly d: Deps;
  /** Commits between the blob's rename and its metadata insert; the orphan sweep waits for none to be in flight. */
  committing = 0;

  constructor(deps: Deps) {
    this.d = deps;
  }

  get blobs(): LocalContentStore {
    return this.d.blobs;
  }

  info(ns: string, digest: string): ContentInfo {
    return this.d.meta.info(ns, validateDigest(digest));
  }

  find(ns: string, digest: string): ContentInfo | undefined {
    return this.d.meta.find(ns, digest);
  }

  list(ns: string, filters: string[]): ContentInfo[] {
    return this.d.meta.list(ns, filters);
  }

  update(ns: string, digest: string, labels: Labels, paths: string[] | undefined): ContentInfo {
    return this.d.meta.update(ns, validateDigest(digest), labels, paths);
  }

  delete(ns: string, digest: string): void {
    this.d.meta.delete(ns, validateDigest(digest));
    this.d.leases.forgetResource(ns, { type: 'content', id: digest });
    this.removeBlobIfUnreferenced(digest);
    this.d.events.emit(ns, '/content/delete', { digest });
  }

  read(ns: string, digest: string, offset = 0, size = 0): Readable {
    this.info(ns, digest);
    return this.d.blobs.read(digest as Digest, { offset, ...(size > 0 ? { length: size } : {}) });
  }

  /**
   * The requested range at once when it is at most SMALL_READ bytes (manifests, indexes, configs: ctr reads
   * each several times per `ctr run`), else undefined and the caller streams it with read().
   */
  readSmall(ns: string, digest: string, offset = 0, size = 0): Buffer | undefined {
    const total = this.info(ns, digest).size;
    const end = size > 0 ? Math.min(total, offset + size) : total;
    if (end - offset > SMALL_READ) return undefined;
    return this.d.blobs.readSync(digest as Digest, offset, Math.max(0, end - offset));
  }

  /** Reads a whole (small) blob: manifests, indexes, configs. */
  async readAll(ns: string, digest: string): Promise<Buffer> {
    const small = this.readSmall(ns, digest);
    if (small) return small;
    const parts: Buffer[] = [];
    for await (const c of this.read(ns, digest)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  async status(ns: string, ref: string): Promise<ContentStatus> {
    if (!this.d.meta.ingest(ns, ref)) throw new NotFoundError(`ingest ${ref}: not found`);
    return toStatus(ref, await this.d.blobs.status(backendRef(ns, ref)));
  }

  async listStatuses(ns: string, filters: string[]): Promise<ContentStatus[]> {
    const match = compileFilters(filters);
    const out: ContentStatus[] = [];
    for (const row of this.d.meta.ingests(ns)) {
      try {
        const s = toStatus(row.ref, await this.d.blobs.status(backendRef(ns, row.ref)));
        if (match((p) => (p[0] === 'ref' ? s.ref : p[0] === 'expected' ? s.expected : undefined))) out.push(s);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out;
  }

  async abort(ns: string, ref: string): Promise<void> {
    if (!this.d.meta.ingest(ns, ref)) throw new NotFoundError(`ingest ${ref}: not found`);
    await this.d.blobs.abort(backendRef(ns, ref));
    this.forgetIngest(ns, ref);
  }

  /**
   * Opens the writer for `ref`. AlreadyExists when the namespace has `expected` (or, content being shared,
   * when the blob is on disk: it is then recorded in the namespace first); Unavailable when another writer holds the ref.
   */
  async openWriter(ns: string, ref: string, opts: WriterOptions): Promise<ContentWriter> {
    if (!ref) throw new InvalidArgumentError('write content: ref must not be empty');
    const expected = opts.expected ? validateDigest(opts.expected) : undefined;
    if (expected) {
      if (this.d.meta.find(ns, expected)) throw new AlreadyExistsError(`content ${expected}: already exists`);
      const size = await this.d.blobs.info(expected).then((i) => i.size, () => undefined);
      if (size !== undefined && (!opts.total || opts.total === size)) {
        this.record(ns, expected, size, undefined, opts.lease);
        throw new AlreadyExistsError(`content ${expected}: already exists`);
      }
    }
    if (opts.lease && !this.d.leases.exists(ns, opts.lease)) throw new NotFoundError(`lease ${opts.lease}: not found`);
    const w = await this.d.blobs.writer({
      ref: backendRef(ns, ref), ...(expected ? { expected } : {}), ...(opts.total ? { total: opts.total } : {}),
    });
    this.d.namespaces.ensure(ns);
    this.d.meta.putIngest(ns, ref, expected ?? '', opts.total ?? 0);
    if (opts.lease) this.d.leases.addResource(ns, opts.lease, { type: 'ingests', id: ref });
    return new ContentWriter(this, ns, ref, w, opts.lease, opts.total ?? 0, expected ?? '');
  }

  /** Writes a whole stream under `ref` and commits it (pull jobs, Diff). Resolves to the info, also when it already existed. */
  async writeStream(ns: string, ref: string, data: AsyncIterable<Buffer>, opts: WriterOptions & { labels?: Labels }): Promise<ContentInfo> {
    let w: ContentWriter;
    try {
      w = await this.openWriter(ns, ref, opts);
    } catch (err) {
      if (err instanceof AlreadyExistsError && opts.expected) return this.info(ns, opts.expected);
      throw err;
    }
    try {
      if (w.offset > 0) await w.truncate();
      for await (const chunk of data) await w.write(chunk);
      return await w.commit(opts.total ?? 0, opts.expected ?? '', opts.labels ?? {});
    } catch (err) {
      // The same bytes are already stored (a deterministic diff made twice): the existing blob is the result.
      if (err instanceof AlreadyExistsError) return this.info(ns, opts.expected ?? w.digest());
      throw err;
    } finally {
      await w.close();
    }
  }

  /** @internal Records a committed blob in the namespace and the lease. */
  record(ns: string, digest: string, size: number, labels: Labels | undefined, lease: string | undefined): ContentInfo {
    this.d.namespaces.ensure(ns);
    const info = this.d.meta.put(ns, digest, size, labels);
    if (lease && this.d.leases.exists(ns, lease)) this.d.leases.addResource(ns, lease, { type: 'content', id: digest });
    return info;
  }

  /** @internal */
  forgetIngest(ns: string, ref: string): void {
    this.d.meta.deleteIngest(ns, ref);
    this.d.leases.forgetResource(ns, { type: 'ingests', id: ref });
  }

  /** Removes the blob file when no namespace records it; synchronous, so no commit can interleave check and removal. */
  private removeBlobIfUnreferenced(digest: string): void {
    if (!this.d.meta.referenced(digest)) rmSync(this.d.blobs.blobPath(digest as Digest), { force: true });
  }

  async removeSwept(plan: SweepPlan): Promise<void> {
    for (const c of plan.content) {
      this.removeBlobIfUnreferenced(c.digest);
      this.d.events.emit(c.namespace, '/content/delete', { digest: c.digest });
    }
    for (const i of plan.ingests) await this.d.blobs.abort(backendRef(i.namespace, i.ref)).catch(() => {});
    // Blobs no namespace records (a crash between the rename and the metadata insert) go too.
    if (this.committing === 0) {
      const digests: string[] = [];
      await this.d.blobs.walk((info) => {
        digests.push(info.digest);
      });
      if (this.committing === 0) for (const digest of digests) this.removeBlobIfUnreferenced(digest);
    }
  }
}
