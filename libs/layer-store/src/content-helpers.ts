/** Convenience over any ContentStore: write a whole blob (resuming, deduplicating), read a whole blob. */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlreadyExists, isUnavailable } from '@berth/errdefs';
import type { Digest } from '@berth/oci';
import type { ContentInfo, ContentStore } from './content-store.ts';

export type BlobSource =
  | Uint8Array
  | Readable
  | AsyncIterable<Uint8Array>
  /** Opens the content from `offset` (so an interrupted ingest resumes, e.g. with an HTTP Range request). */
  | ((offset: number) => Readable | AsyncIterable<Uint8Array> | Promise<Readable | AsyncIterable<Uint8Array>>);

export interface WriteBlobOptions {
  labels?: Record<string, string>;
  signal?: AbortSignal;
  /** Bytes written so far (including what a resumed ingest already had). */
  onProgress?: (offset: number) => void;
  /** How long to wait for another writer of the same ref before giving up (default 10 min). */
  lockTimeoutMs?: number;
}

/**
 * Writes a blob under `ref` and commits it with `desc`'s digest and size (containerd's content.WriteBlob):
 * an existing blob is success (its info is returned); a ref held by another writer is waited for (that is
 * how concurrent pulls of one layer share a single download); a leftover ingest is resumed when `source`
 * can start at an offset, else restarted.
 */
export async function writeBlob(store: ContentStore, ref: string, source: BlobSource, desc: { digest: Digest; size?: number },
  opts: WriteBlobOptions = {}): Promise<ContentInfo> {
  const deadline = Date.now() + (opts.lockTimeoutMs ?? 600_000);
  let delay = 20;
  for (;;) {
    opts.signal?.throwIfAborted();
    let w;
    try {
      w = await store.writer({ ref, expected: desc.digest, ...(desc.size ? { total: desc.size } : {}) });
    } catch (err) {
      if (isAlreadyExists(err)) return store.info(desc.digest);
      if (isUnavailable(err) && Date.now() < deadline) {
        await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : {});
        delay = Math.min(delay * 2, 500);
        continue;
      }
      throw err;
    }
    try {
      let offset = w.status().offset;
      let input: Readable | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
      if (typeof source === 'function') {
        if (desc.size && offset > desc.size) {
          await w.truncate(0);
          offset = 0;
        }
        input = await source(offset);
      } else if (source instanceof Uint8Array) {
        if (offset > source.length) {
          await w.truncate(0);
          offset = 0;
        }
        input = [source.subarray(offset)];
      } else {
        if (offset > 0) await w.truncate(0);
        offset = 0;
        input = source;
      }
      for await (const chunk of input) {
        opts.signal?.throwIfAborted();
        const b = chunk instanceof Uint8Array ? chunk : Buffer.from(chunk as string);
        await w.write(b);
        offset += b.length;
        opts.onProgress?.(offset);
      }
      try {
        const commit = { expected: desc.digest, size: desc.size ?? 0, ...(opts.labels ? { labels: opts.labels } : {}) };
        return await w.commit(commit);
      } catch (err) {
        if (isAlreadyExists(err)) {
          const info = await store.info(desc.digest);
          return opts.labels ? store.update({ digest: desc.digest, labels: { ...info.labels, ...opts.labels } }) : info;
        }
        throw err;
      }
    } finally {
      await w.close();
    }
  }
}

/** Reads a whole blob into memory (manifests, configs, indexes: small things). */
export async function readBlob(store: ContentStore, digest: Digest): Promise<Buffer> {
  const r = await store.readerAt(digest);
  try {
    return await r.read(0, r.size);
  } finally {
    await r.close();
  }
}
