/**
 * The layer-store `ContentStore` interface over runtimed's Content service, so @berth/distribution's archive
 * code (save, load, import) works against the content runtimed owns — containerd's proxy idea: callers cannot
 * tell the remote store from a local one.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { RuntimedClient, ContentInfo as RtInfo } from '@berth/containerd-api';
import { fromTimestamp } from '@berth/containerd-api';
import { NotImplementedError } from '@berth/errdefs';
import type { CommitOptions, ContentInfo, ContentStore, ContentWriter, IngestStatus, ReaderAt, WriterOptions } from '@berth/layer-store';
import type { Digest } from '@berth/oci';

const toInfo = (i: RtInfo): ContentInfo => ({
  digest: i.digest as Digest,
  size: Number(i.size),
  createdAt: fromTimestamp(i.createdAt) ?? new Date(0),
  updatedAt: fromTimestamp(i.updatedAt) ?? new Date(0),
  labels: i.labels ?? {},
});

/** A queue the gRPC write consumes; `fail` cancels the call instead of committing. */
class ChunkQueue implements AsyncIterable<Buffer> {
  private items: Buffer[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private error: Error | undefined;

  push(b: Buffer): void {
    this.items.push(b);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  fail(err: Error): void {
    this.error = err;
    this.wake?.();
  }

  async* [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      if (this.error) throw this.error;
      const next = this.items.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

export class RemoteContentStore implements ContentStore {
  private readonly rt: RuntimedClient;

  constructor(rt: RuntimedClient) {
    this.rt = rt;
  }

  async info(digest: Digest): Promise<ContentInfo> {
    return toInfo(await this.rt.content.info(digest));
  }

  async update(info: { digest: Digest; labels: Record<string, string> }, fieldpaths?: string[]): Promise<ContentInfo> {
    return toInfo(await this.rt.content.update(info, fieldpaths && fieldpaths.length > 0 ? fieldpaths : undefined));
  }

  async walk(fn: (info: ContentInfo) => void | Promise<void>, filter?: (info: ContentInfo) => boolean): Promise<void> {
    for (const i of await this.rt.content.list()) {
      const info = toInfo(i);
      if (!filter || filter(info)) await fn(info);
    }
  }

  async delete(digest: Digest): Promise<void> {
    await this.rt.content.delete(digest);
  }

  async readerAt(digest: Digest): Promise<ReaderAt> {
    const info = await this.info(digest);
    const rt = this.rt;
    return {
      size: info.size,
      async read(offset: number, length: number): Promise<Buffer> {
        const parts: Buffer[] = [];
        const n = Math.min(length, info.size - offset);
        if (n <= 0) return Buffer.alloc(0);
        for await (const d of rt.content.read(digest, offset, n)) parts.push(d);
        return Buffer.concat(parts);
      },
      async close() {},
    };
  }

  read(digest: Digest, range?: { offset?: number; length?: number }): Readable {
    return Readable.from(this.rt.content.read(digest, range?.offset ?? 0, range?.length ?? 0));
  }

  async writer(opts: WriterOptions): Promise<ContentWriter> {
    const queue = new ChunkQueue();
    const hash = createHash('sha256');
    const callOpts: { expected?: string; total?: number; labels?: Record<string, string> } = {
      ...(opts.expected ? { expected: opts.expected } : {}), ...(opts.total ? { total: opts.total } : {}),
    };
    const started = new Date();
    let offset = 0;
    let closed = false;
    const result = this.rt.content.write(opts.ref, queue, callOpts);
    result.catch(() => undefined);
    const rt = this.rt;
    return {
      ref: opts.ref,
      async write(data: Uint8Array) {
        const b = Buffer.from(data);
        hash.update(b);
        offset += b.length;
        queue.push(b);
      },
      async truncate() {
        throw new NotImplementedError(`truncate ingest ${opts.ref}: not supported over the content service`);
      },
      status(): IngestStatus {
        return {
          ref: opts.ref, offset, total: opts.total ?? 0, ...(opts.expected ? { expected: opts.expected } : {}),
          startedAt: started, updatedAt: new Date(),
        };
      },
      digest(): Digest {
        return `sha256:${hash.copy().digest('hex')}` as Digest;
      },
      async commit(c?: CommitOptions): Promise<ContentInfo> {
        if (c?.expected) callOpts.expected = c.expected;
        if (c?.labels) callOpts.labels = c.labels;
        closed = true;
        queue.end();
        const digest = await result;
        return toInfo(await rt.content.info(digest));
      },
      async close() {
        if (closed) return;
        closed = true;
        queue.fail(new Error(`write ${opts.ref}: closed without commit`));
        await result.catch(() => undefined);
      },
    };
  }

  async status(ref: string): Promise<IngestStatus> {
    const s = await this.rt.content.status(ref);
    return {
      ref: s.ref, offset: Number(s.offset), total: Number(s.total), ...(s.expected ? { expected: s.expected as Digest } : {}),
      startedAt: fromTimestamp(s.startedAt) ?? new Date(0), updatedAt: fromTimestamp(s.updatedAt) ?? new Date(0),
    };
  }

  async listStatuses(filter?: (status: IngestStatus) => boolean): Promise<IngestStatus[]> {
    const out: IngestStatus[] = [];
    for (const s of await this.rt.content.listStatuses()) {
      const st: IngestStatus = {
        ref: s.ref, offset: Number(s.offset), total: Number(s.total), ...(s.expected ? { expected: s.expected as Digest } : {}),
        startedAt: fromTimestamp(s.startedAt) ?? new Date(0), updatedAt: fromTimestamp(s.updatedAt) ?? new Date(0),
      };
      if (!filter || filter(st)) out.push(st);
    }
    return out;
  }

  async abort(ref: string): Promise<void> {
    await this.rt.content.abort(ref);
  }
}
