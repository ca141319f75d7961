/**
 * The content store on a local directory (containerd's local store layout):
 *   blobs/<alg>/<hex>            committed blobs, read-only (0444)
 *   labels/<alg>/<hex>.json      labels and update time of a blob (absent: no labels)
 *   ingest/<sha256(ref)>/        one in-progress write: `meta.json` (ref, total, expected, startedAt) and `data`
 * One process owns a root (locks on refs are in memory). Metadata files are written temp + fsync + rename.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants as C, openSync, readSync } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError,
} from '@berth/errdefs';
import { digestAlgorithm, digestEncoded, parseDigest, type Digest, type DigestAlgorithm } from '@berth/oci';
import type {
  CommitOptions, ContentInfo, ContentStore, ContentWriter, IngestStatus, ReaderAt, WriterOptions,
} from './content-store.ts';

const MAX_LABEL_SIZE = 4096;
const READ_CHUNK = 1 << 20;

interface IngestMeta {
  ref: string;
  total: number;
  expected?: Digest;
  startedAt: number;
}

interface LabelsFile {
  labels: Record<string, string>;
  updatedAt: number;
}

function isCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}

/** Writes a small file atomically: temp in the same dir, fsync, rename, fsync the dir. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(file));
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, C.O_RDONLY | C.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function validateLabels(labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (k === '') throw new InvalidArgumentError('label key must not be empty');
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > MAX_LABEL_SIZE) {
      throw new InvalidArgumentError(`label key and value greater than maximum size (${MAX_LABEL_SIZE} bytes), key: ${k.slice(0, 64)}`);
    }
  }
}

/** Applies containerd's update field paths (`labels`, `labels.<key>`) to a label map. */
export function applyLabelUpdate(current: Record<string, string>, next: Record<string, string>, fieldpaths: string[] | undefined,
  what: string): Record<string, string> {
  let out: Record<string, string>;
  if (!fieldpaths || fieldpaths.length === 0) {
    out = { ...next };
  } else {
    out = { ...current };
    for (const fp of fieldpaths) {
      if (fp === 'labels') {
        out = { ...next };
      } else if (fp.startsWith('labels.')) {
        const k = fp.slice('labels.'.length);
        const v = next[k];
        if (v === undefined || v === '') delete out[k];
        else out[k] = v;
      } else {
        throw new InvalidArgumentError(`cannot update ${JSON.stringify(fp)} field on ${what}`);
      }
    }
  }
  for (const [k, v] of Object.entries(out)) if (v === '') delete out[k];
  validateLabels(out);
  return out;
}

export class LocalContentStore implements ContentStore {
  readonly root: string;
  private readonly locks = new Map<string, LocalWriter>();

  constructor(root: string) {
    this.root = root;
  }

  /** Opens (creating) a store at `root`. */
  static async open(root: string): Promise<LocalContentStore> {
    for (const d of ['blobs/sha256', 'blobs/sha512', 'labels/sha256', 'labels/sha512', 'ingest']) {
      await mkdir(path.join(root, d), { recursive: true, mode: 0o755 });
    }
    return new LocalContentStore(root);
  }

  /** The file of a committed blob (for readers that want the path, e.g. to hand it to another process). */
  blobPath(digest: Digest): string {
    return path.join(this.root, 'blobs', digestAlgorithm(digest), digestEncoded(digest));
  }

  private labelsPath(digest: Digest): string {
    return path.join(this.root, 'labels', digestAlgorithm(digest), `${digestEncoded(digest)}.json`);
  }

  private ingestDir(ref: string): string {
    return path.join(this.root, 'ingest', createHash('sha256').update(ref).digest('hex'));
  }

  async info(digest: Digest): Promise<ContentInfo> {
    parseDigest(digest);
    let st;
    try {
      st = await stat(this.blobPath(digest));
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw new NotFoundError(`content digest ${digest}: not found`);
      throw err;
    }
    const lf = await this.readLabels(digest);
    return {
      digest,
      size: st.size,
      createdAt: st.mtime,
      updatedAt: lf ? new Date(lf.updatedAt) : st.mtime,
      labels: lf?.labels ?? {},
    };
  }

  private async readLabels(digest: Digest): Promise<LabelsFile | undefined> {
    try {
      return JSON.parse(await readFile(this.labelsPath(digest), 'utf8')) as LabelsFile;
    } catch (err) {
      if (isCode(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  private async writeLabels(digest: Digest, labels: Record<string, string>): Promise<void> {
    if (Object.keys(labels).length === 0) {
      await rm(this.labelsPath(digest), { force: true });
      return;
    }
    const lf: LabelsFile = { labels, updatedAt: Date.now() };
    await writeFileAtomic(this.labelsPath(digest), JSON.stringify(lf));
  }

  async update(info: { digest: Digest; labels: Record<string, string> }, fieldpaths?: string[]): Promise<ContentInfo> {
    const cur = await this.info(info.digest);
    const labels = applyLabelUpdate(cur.labels, info.labels ?? {}, fieldpaths, 'content info');
    await this.writeLabels(info.digest, labels);
    return this.info(info.digest);
  }

  async walk(fn: (info: ContentInfo) => void | Promise<void>, filter?: (info: ContentInfo) => boolean): Promise<void> {
    for (const alg of ['sha256', 'sha512'] as DigestAlgorithm[]) {
      let names: string[];
      try {
        names = await readdir(path.join(this.root, 'blobs', alg));
      } catch (err) {
        if (isCode(err, 'ENOENT')) continue;
        throw err;
      }
      for (const name of names.sort()) {
        const digest = `${alg}:${name}` as Digest;
        let info: ContentInfo;
        try {
          parseDigest(digest);
          info = await this.info(digest);
        } catch {
          continue; // not a blob (or deleted meanwhile)
        }
        if (!filter || filter(info)) await fn(info);
      }
    }
  }

  async delete(digest: Digest): Promise<void> {
    parseDigest(digest);
    try {
      await unlink(this.blobPath(digest));
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw new NotFoundError(`content digest ${digest}: not found`);
      throw err;
    }
    await rm(this.labelsPath(digest), { force: true });
  }

  /**
   * Reads `length` bytes at `offset` in one synchronous call: for small ranges of page-cached blobs (manifests,
   * configs) it costs less than the thread-pool round trips of open, stat, read and close. Fewer bytes come
   * back when the blob ends first.
   */
  readSync(digest: Digest, offset: number, length: number): Buffer {
    parseDigest(digest);
    let fd: number;
    try {
      fd = openSync(this.blobPath(digest), 'r');
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw new NotFoundError(`content digest ${digest}: not found`);
      throw err;
    }
    try {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, buf, got, length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return got === length ? buf : buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  }

  async readerAt(digest: Digest): Promise<ReaderAt> {
    parseDigest(digest);
    let fh: FileHandle;
    try {
      fh = await open(this.blobPath(digest), 'r');
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw new NotFoundError(`content digest ${digest}: not found`);
      throw err;
    }
    const { size } = await fh.stat();
    return {
      size,
      async read(offset: number, length: number): Promise<Buffer> {
        if (offset < 0 || length < 0) throw new InvalidArgumentError(`read ${digest}: negative offset or length`);
        const n = Math.max(0, Math.min(length, size - offset));
        const buf = Buffer.allocUnsafe(n);
        let got = 0;
        while (got < n) {
          const { bytesRead } = await fh.read(buf, got, n - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got === n ? buf : buf.subarray(0, got);
      },
      close: () => fh.close(),
    };
  }

  read(digest: Digest, range: { offset?: number; length?: number } = {}): Readable {
    const open = () => this.readerAt(digest);
    async function* gen(): AsyncGenerator<Buffer> {
      const r = await open();
      try {
        let offset = range.offset ?? 0;
        const end = range.length === undefined ? r.size : Math.min(r.size, offset + range.length);
        while (offset < end) {
          const chunk = await r.read(offset, Math.min(READ_CHUNK, end - offset));
          if (chunk.length === 0) break;
          offset += chunk.length;
          yield chunk;
        }
      } finally {
        await r.close();
      }
    }
    return Readable.from(gen(), { objectMode: false });
  }

  async writer(opts: WriterOptions): Promise<ContentWriter> {
    const { ref } = opts;
    if (!ref) throw new InvalidArgumentError('content writer: ref must not be empty');
    if (opts.expected !== undefined) parseDigest(opts.expected);
    if (this.locks.has(ref)) throw new UnavailableError(`ref ${ref} locked: unavailable`);
    const w = new LocalWriter(this, ref);
    this.locks.set(ref, w);
    try {
      if (opts.expected && (await this.exists(opts.expected))) {
        throw new AlreadyExistsError(`content ${opts.expected}: already exists`);
      }
      await w.open(this.ingestDir(ref), opts);
      return w;
    } catch (err) {
      this.locks.delete(ref);
      throw err;
    }
  }

  private async exists(digest: Digest): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  /** @internal called by writers */
  release(ref: string, w: LocalWriter): void {
    if (this.locks.get(ref) === w) this.locks.delete(ref);
  }

  /** @internal called by writers: moves committed data into place. */
  async place(dataPath: string, digest: Digest, labels: Record<string, string> | undefined): Promise<ContentInfo> {
    const target = this.blobPath(digest);
    if (await this.exists(digest)) throw new AlreadyExistsError(`content ${digest}: already exists`);
    await chmod(dataPath, 0o444);
    await rename(dataPath, target);
    await syncDir(path.dirname(target));
    if (labels && Object.keys(labels).length) await this.writeLabels(digest, labels);
    return this.info(digest);
  }

  async status(ref: string): Promise<IngestStatus> {
    const s = await this.readStatus(this.ingestDir(ref));
    if (!s || s.ref !== ref) throw new NotFoundError(`ingest ref ${JSON.stringify(ref)}: not found`);
    return s;
  }

  private async readStatus(dir: string): Promise<IngestStatus | undefined> {
    try {
      const meta = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as IngestMeta;
      const st = await stat(path.join(dir, 'data'));
      return {
        ref: meta.ref,
        offset: st.size,
        total: meta.total,
        ...(meta.expected ? { expected: meta.expected } : {}),
        startedAt: new Date(meta.startedAt),
        updatedAt: st.mtime,
      };
    } catch (err) {
      if (isCode(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  async listStatuses(filter?: (status: IngestStatus) => boolean): Promise<IngestStatus[]> {
    const out: IngestStatus[] = [];
    for (const name of (await readdir(path.join(this.root, 'ingest'))).sort()) {
      const s = await this.readStatus(path.join(this.root, 'ingest', name));
      if (s && (!filter || filter(s))) out.push(s);
    }
    return out;
  }

  async abort(ref: string): Promise<void> {
    const dir = this.ingestDir(ref);
    const s = await this.readStatus(dir);
    if (!s || s.ref !== ref) throw new NotFoundError(`ingest ref ${JSON.stringify(ref)}: not found`);
    this.locks.get(ref)?.markAborted();
    await rm(dir, { recursive: true, force: true });
  }
}

class LocalWriter implements ContentWriter {
  readonly ref: string;
  private readonly store: LocalContentStore;
  private dir = '';
  private fh: FileHandle | undefined;
  private hash: Hash = createHash('sha256');
  private offset = 0;
  private meta!: IngestMeta;
  private updatedAt = new Date();
  private aborted = false;
  private closed = false;

  constructor(store: LocalContentStore, ref: string) {
    this.store = store;
    this.ref = ref;
  }

  markAborted(): void {
    this.aborted = true;
  }

  async open(dir: string, opts: WriterOptions): Promise<void> {
    this.dir = dir;
    const alg = opts.expected ? digestAlgorithm(opts.expected) : 'sha256';
    this.hash = createHash(alg);
    let meta: IngestMeta | undefined;
    try {
      meta = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as IngestMeta;
    } catch (err) {
      if (!isCode(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
    }
    if (meta && meta.ref === this.ref) {
      // Resume: check the request agrees with the ingest, then re-hash what is there.
      if (opts.total && meta.total && opts.total !== meta.total) {
        throw new FailedPreconditionError(`ingest ${this.ref}: provided total ${opts.total} differs from the ingest's ${meta.total}`);
      }
      if (opts.expected && meta.expected && opts.expected !== meta.expected) {
        throw new FailedPreconditionError(`ingest ${this.ref}: provided expected digest ${opts.expected} differs from the ingest's ${meta.expected}`);
      }
      if (opts.total && !meta.total) meta.total = opts.total;
      if (opts.expected && !meta.expected) meta.expected = opts.expected;
      this.meta = meta;
      if (meta.expected) this.hash = createHash(digestAlgorithm(meta.expected));
      this.fh = await open(path.join(dir, 'data'), C.O_RDWR | C.O_CREAT, 0o644);
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      for (;;) {
        const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.hash.update(buf.subarray(0, bytesRead));
        this.offset += bytesRead;
      }
      await writeFileAtomic(path.join(dir, 'meta.json'), JSON.stringify(meta));
      return;
    }
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o755 });
    this.meta = { ref: this.ref, total: opts.total ?? 0, ...(opts.expected ? { expected: opts.expected } : {}), startedAt: Date.now() };
    await writeFileAtomic(path.join(dir, 'meta.json'), JSON.stringify(this.meta));
    this.fh = await open(path.join(dir, 'data'), C.O_RDWR | C.O_CREAT | C.O_TRUNC, 0o644);
  }

  private check(what: string): FileHandle {
    if (this.aborted) throw new NotFoundError(`${what} ${this.ref}: ingest was aborted`);
    if (this.closed || !this.fh) throw new FailedPreconditionError(`${what} ${this.ref}: writer is closed`);
    return this.fh;
  }

  async write(data: Uint8Array): Promise<void> {
    const fh = this.check('write');
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await fh.write(data, done, data.length - done, this.offset + done);
      done += bytesWritten;
    }
    this.hash.update(data);
    this.offset += data.length;
    this.updatedAt = new Date();
  }

  async truncate(size: 0): Promise<void> {
    const fh = this.check('truncate');
    if (size !== 0) throw new InvalidArgumentError(`truncate ${this.ref}: only truncation to 0 is supported`);
    await fh.truncate(0);
    this.offset = 0;
    this.hash = createHash(this.meta.expected ? digestAlgorithm(this.meta.expected) : 'sha256');
  }

  status(): IngestStatus {
    return {
      ref: this.ref,
      offset: this.offset,
      total: this.meta.total,
      ...(this.meta.expected ? { expected: this.meta.expected } : {}),
      startedAt: new Date(this.meta.startedAt),
      updatedAt: this.updatedAt,
    };
  }

  digest(): Digest {
    const alg = this.meta.expected ? digestAlgorithm(this.meta.expected) : 'sha256';
    return `${alg}:${this.hash.copy().digest('hex')}`;
  }

  async commit(opts: CommitOptions = {}): Promise<ContentInfo> {
    const fh = this.check('commit');
    try {
      const size = opts.size || this.meta.total;
      if (size && size !== this.offset) {
        throw new FailedPreconditionError(`commit ${this.ref}: unexpected commit size ${this.offset}, expected ${size}`);
      }
      const expected = opts.expected ?? this.meta.expected;
      if (expected !== undefined) parseDigest(expected);
      const actual = expected && digestAlgorithm(expected) !== digestAlgorithm(this.digest())
        ? `${digestAlgorithm(expected)}:unknown` as Digest
        : this.digest();
      if (expected && expected !== actual) {
        throw new FailedPreconditionError(`commit ${this.ref}: unexpected commit digest ${actual}, expected ${expected}`);
      }
      if (opts.labels) validateLabels(opts.labels);
      await fh.sync();
      await fh.close();
      this.fh = undefined;
      try {
        return await this.store.place(path.join(this.dir, 'data'), actual, opts.labels);
      } finally {
        await rm(this.dir, { recursive: true, force: true });
        this.closed = true;
        this.store.release(this.ref, this);
      }
    } catch (err) {
      if (!this.closed) await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.fh?.close();
    } finally {
      this.fh = undefined;
      this.store.release(this.ref, this);
    }
  }
}

// Exported for the store's own helpers; not part of the package surface.
export type { LocalWriter };
