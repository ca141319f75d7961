/**
 * The content store of @berth/layer-store seen through the narrow BlobStore interface the registry client
 * uses. A second writer on the same ingest ref (another pull of the same blob) waits for the first rather
 * than failing; a blob that appears meanwhile counts as written.
 */
import { AlreadyExistsError, FailedPreconditionError, isNotFound, UnavailableError } from '@berth/errdefs';
import type { ContentStore, ContentWriter } from '@berth/layer-store';
import type { Descriptor, Digest } from '@berth/oci';
import { sleep } from './limiter.ts';
import type { AnyIngest, BlobIngest, BlobStore } from './store.ts';

const stores = new WeakMap<ContentStore, BlobStore>();

/** The BlobStore view of a ContentStore (one per store, so in-process deduplication sees all pulls). */
export function blobStoreOf(cs: ContentStore): BlobStore {
  let b = stores.get(cs);
  if (!b) {
    b = new ContentBlobStore(cs);
    stores.set(cs, b);
  }
  return b;
}

async function openWriter(cs: ContentStore, ref: string, desc: Descriptor): Promise<ContentWriter | 'exists'> {
  for (let waited = 0; ; waited += 50) {
    try {
      return await cs.writer({ ref, expected: desc.digest, total: desc.size });
    } catch (err) {
      if (err instanceof AlreadyExistsError) return 'exists';
      // Locked by another writer of the same ref: wait for it to commit or give up.
      if (err instanceof UnavailableError && waited < 600_000) {
        await sleep(50);
        continue;
      }
      throw err;
    }
  }
}

class ContentBlobStore implements BlobStore {
  private readonly cs: ContentStore;

  constructor(cs: ContentStore) {
    this.cs = cs;
  }

  async stat(digest: Digest): Promise<{ size: number } | undefined> {
    try {
      const info = await this.cs.info(digest);
      return { size: info.size };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async read(digest: Digest, range?: { offset?: number; length?: number }) {
    await this.cs.info(digest);
    return this.cs.read(digest, range);
  }

  async readAll(digest: Digest): Promise<Buffer> {
    const r = await this.cs.readerAt(digest);
    try {
      return await r.read(0, r.size);
    } finally {
      await r.close();
    }
  }

  async ingest(ref: string, desc: Descriptor, labels?: Record<string, string>): Promise<BlobIngest> {
    const w = await openWriter(this.cs, ref, desc);
    if (w === 'exists') return existingIngest(desc, () => (labels ? this.label(desc.digest, labels) : Promise.resolve()));
    const cs = this.cs;
    const label = (l: Record<string, string>) => this.label(desc.digest, l);
    return {
      offset: w.status().offset,
      write: (chunk) => w.write(chunk),
      verify() {
        // The same checks (and words) as the store's commit.
        const { offset } = w.status();
        if (offset !== desc.size) throw new FailedPreconditionError(`commit ${ref}: unexpected commit size ${offset}, expected ${desc.size}`);
        const actual = w.digest();
        if (actual !== desc.digest) throw new FailedPreconditionError(`commit ${ref}: unexpected commit digest ${actual}, expected ${desc.digest}`);
      },
      async commit() {
        try {
          await w.commit({ size: desc.size, expected: desc.digest, ...(labels ? { labels } : {}) });
          return true;
        } catch (err) {
          // Someone else committed it first: the content is there and verified.
          if (err instanceof AlreadyExistsError) {
            if (labels) await label(labels);
            return false;
          }
          // A failed verification leaves nothing behind.
          await cs.abort(ref).catch(() => {});
          throw err;
        }
      },
      async abort() {
        await w.close().catch(() => {});
        await cs.abort(ref).catch(() => {});
      },
    };
  }

  async put(desc: Descriptor, data: Buffer, labels?: Record<string, string>): Promise<boolean> {
    const ing = await this.ingest(`put-${desc.digest}`, desc, labels);
    if (ing.exists) return ing.commit().then(() => false);
    if (ing.offset > 0) {
      await ing.abort();
      return this.put(desc, data, labels);
    }
    try {
      await ing.write(data);
      return await ing.commit();
    } catch (err) {
      await ing.abort();
      throw err;
    }
  }

  async ingestAny(ref: string): Promise<AnyIngest> {
    const cs = this.cs;
    const w = await cs.writer({ ref });
    if (w.status().offset > 0) await w.truncate(0);
    let size = 0;
    return {
      write: async (chunk) => {
        await w.write(chunk);
        size += chunk.length;
      },
      async commit(labels) {
        const digest = w.digest();
        try {
          await w.commit({ size, ...(labels ? { labels } : {}) });
          return { digest, size, created: true };
        } catch (err) {
          if (err instanceof AlreadyExistsError) return { digest, size, created: false };
          await cs.abort(ref).catch(() => {});
          throw err;
        }
      },
      async abort() {
        await w.close().catch(() => {});
        await cs.abort(ref).catch(() => {});
      },
    };
  }

  async delete(digest: Digest): Promise<void> {
    try {
      await this.cs.delete(digest);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async label(digest: Digest, labels: Record<string, string>): Promise<void> {
    const keys = Object.keys(labels);
    if (keys.length === 0) return;
    await this.cs.update({ digest, labels }, keys.map((k) => `labels.${k}`));
  }

  async labels(digest: Digest): Promise<Record<string, string>> {
    return (await this.cs.info(digest)).labels;
  }
}

/** An ingest for a blob that is already committed: writes are refused, commit only adds labels. */
function existingIngest(desc: Descriptor, onCommit: () => Promise<void>): BlobIngest {
  return {
    offset: desc.size,
    exists: true,
    write: async () => {
      throw new AlreadyExistsError(`content ${desc.digest}: already exists`);
    },
    verify: () => {},
    commit: () => onCommit().then(() => false),
    abort: async () => {},
  };
}
