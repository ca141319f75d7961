/**
 * One namespace of the content store seen as @berth/layer-store's ContentStore (what @berth/distribution pulls
 * into), with an optional lease that every write joins.
 */
import type { Readable } from 'node:stream';
import { fromTimestamp, type ContentInfo as WireInfo, type ContentStatus } from '@berth/containerd-api';
import type { ContentInfo, ContentStore, ContentWriter, IngestStatus, ReaderAt, WriterOptions } from '@berth/layer-store';
import type { Digest } from '@berth/oci';
import type { ContentManager } from './manager.ts';

function toInfo(w: WireInfo): ContentInfo {
  return {
    digest: w.digest as Digest, size: w.size, labels: w.labels,
    createdAt: fromTimestamp(w.createdAt) ?? new Date(0), updatedAt: fromTimestamp(w.updatedAt) ?? new Date(0),
  };
}

function toIngest(s: ContentStatus): IngestStatus {
  return {
    ref: s.ref, offset: s.offset, total: s.total, ...(s.expected ? { expected: s.expected as Digest } : {}),
    startedAt: fromTimestamp(s.startedAt) ?? new Date(), updatedAt: fromTimestamp(s.updatedAt) ?? new Date(),
  };
}

export class NamespacedContentStore implements ContentStore {
  private readonly mgr: ContentManager;
  readonly namespace: string;
  private readonly lease: string | undefined;

  constructor(mgr: ContentManager, namespace: string, lease?: string) {
    this.mgr = mgr;
    this.namespace = namespace;
    this.lease = lease;
  }

  async info(digest: Digest): Promise<ContentInfo> {
    return toInfo(this.mgr.info(this.namespace, digest));
  }

  async update(info: { digest: Digest; labels: Record<string, string> }, fieldpaths?: string[]): Promise<ContentInfo> {
    return toInfo(this.mgr.update(this.namespace, info.digest, info.labels, fieldpaths));
  }

  async walk(fn: (info: ContentInfo) => void | Promise<void>, filter?: (info: ContentInfo) => boolean): Promise<void> {
    for (const w of this.mgr.list(this.namespace, [])) {
      const info = toInfo(w);
      if (!filter || filter(info)) await fn(info);
    }
  }

  async delete(digest: Digest): Promise<void> {
    this.mgr.delete(this.namespace, digest);
  }

  async readerAt(digest: Digest): Promise<ReaderAt> {
    this.mgr.info(this.namespace, digest);
    return this.mgr.blobs.readerAt(digest);
  }

  read(digest: Digest, range?: { offset?: number; length?: number }): Readable {
    return this.mgr.read(this.namespace, digest, range?.offset ?? 0, range?.length ?? 0);
  }

  async writer(opts: WriterOptions): Promise<ContentWriter> {
    const w = await this.mgr.openWriter(this.namespace, opts.ref, {
      ...(opts.expected ? { expected: opts.expected } : {}), ...(opts.total ? { total: opts.total } : {}), lease: this.lease,
    });
    const status = (): IngestStatus => ({
      ref: w.ref, offset: w.offset, total: w.total, ...(w.expected ? { expected: w.expected as Digest } : {}),
      startedAt: w.startedAt, updatedAt: new Date(),
    });
    return {
      ref: opts.ref,
      write: (data) => w.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength)),
      truncate: () => w.truncate(),
      status,
      digest: () => w.digest() as Digest,
      commit: async (c = {}) => {
        try {
          return toInfo(await w.commit(c.size ?? 0, c.expected ?? '', c.labels ?? {}));
        } finally {
          await w.close();
        }
      },
      close: () => w.close(),
    };
  }

  async status(ref: string): Promise<IngestStatus> {
    return toIngest(await this.mgr.status(this.namespace, ref));
  }

  async listStatuses(filter?: (status: IngestStatus) => boolean): Promise<IngestStatus[]> {
    return (await this.mgr.listStatuses(this.namespace, [])).map(toIngest).filter((s) => !filter || filter(s));
  }

  async abort(ref: string): Promise<void> {
    await this.mgr.abort(this.namespace, ref);
  }
}
