/**
 * Turns compressed layer bytes, written chunk by chunk, into a decompressed stream for an unpacker. The
 * compression is sniffed from the first bytes (gzip, zstd or none: registries mislabel layers often enough
 * that Docker sniffs too). The output ends only after `end()`, which the pull calls once the blob has been
 * verified, so a consumer never sees a clean end of unverified data. A consumer that destroys the output early
 * (an apply that failed or gave up) never holds up the writer: the rest is discarded.
 *
 * Without `resume`, `write` waits while the consumer is behind (backpressure). With `resume`, the writer is a
 * download that also stores every byte, and the feed never holds it up: up to `SPILL_AFTER` bytes wait in memory;
 * beyond that the feed stops taking chunks ("spills") and, once what it holds is consumed, reads the rest of the
 * blob from `resume(offset)` (the stored blob, once the download has committed it). A slow extraction then no
 * longer keeps a download slot busy (docker downloads to a file first for the same reason).
 */
import { PassThrough, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import { detectCompression } from '@berth/oci';

/** Compressed bytes a feed with `resume` holds in memory before it spills. */
export const SPILL_AFTER = 8 << 20;

export interface LayerFeedOptions {
  /** Decompress (default); false: the output is the input as it came (its consumer decompresses). */
  decompress?: boolean;
  /** The blob's bytes from `offset` on, once all of it is stored and verified. */
  resume?: (offset: number) => Promise<AsyncIterable<Buffer> & { destroy(): void }>;
}

export class LayerFeed {
  /** The decompressed stream. */
  readonly output = new PassThrough({ highWaterMark: 1 << 20 });
  /** Resolves at `end()` (the input was verified), rejects at `fail()`. */
  readonly verified: Promise<void>;
  private settle!: (err?: Error) => void;
  private inner: Transform | undefined;
  private head: Buffer | undefined;
  failed = false;
  /** The consumer destroyed the output before its end: writes are dropped. */
  private discarding = false;
  /** Compressed bytes written so far. */
  written = 0;
  private readonly resume: LayerFeedOptions['resume'];
  private readonly decompress: boolean;
  /** Chunks taken while the decompressor was full (only with `resume`). */
  private queue: Buffer[] = [];
  private queued = 0;
  /** Once the feed stopped taking chunks: the offset of the first it did not take (where `resume` starts). */
  private spilledAt: number | undefined;
  private ended = false;
  private pumping = false;

  constructor(opts: LayerFeedOptions = {}) {
    this.resume = opts.resume;
    this.decompress = opts.decompress ?? true;
    this.verified = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err ? reject(err) : resolve());
    });
    this.verified.catch(() => {});
    // The consumer may be gone when a failure arrives; its own listeners still see the error.
    this.output.on('error', () => {});
    this.output.on('close', () => {
      if (this.output.readableEnded || this.failed) return;
      this.discarding = true;
      this.inner?.unpipe(this.output);
      this.inner?.destroy();
    });
  }

  private start(head: Buffer): Transform {
    const c = this.decompress ? detectCompression(head) : 'none';
    const inner: Transform = c === 'gzip'
      ? zlib.createGunzip({ chunkSize: 256 * 1024 })
      : c === 'zstd' ? zlib.createZstdDecompress({ chunkSize: 256 * 1024 }) : new PassThrough();
    inner.on('error', (err) => this.fail(err));
    inner.pipe(this.output);
    this.inner = inner;
    return inner;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failed) return;
    this.written += chunk.length;
    if (this.discarding || this.spilledAt !== undefined) return;
    if (this.queued > 0 || this.pumping) {
      // Only with `resume`: the decompressor is full and the pump hands chunks on.
      if (this.queued + chunk.length > SPILL_AFTER) this.spilledAt = this.written - chunk.length;
      else {
        this.queue.push(chunk);
        this.queued += chunk.length;
      }
      return;
    }
    let inner = this.inner;
    if (!inner) {
      // Four bytes tell the compression; hold tiny first chunks until they are there.
      this.head = this.head ? Buffer.concat([this.head, chunk]) : chunk;
      if (this.head.length < 4) return;
      inner = this.start(this.head);
      chunk = this.head;
      this.head = undefined;
    }
    if (!inner.write(chunk)) {
      if (this.resume) {
        void this.pump(inner);
        return;
      }
      await drained(inner);
    }
  }

  /** With `resume`: hands queued chunks on as the decompressor drains, then the spilled rest, then the end. */
  private async pump(inner: Transform): Promise<void> {
    this.pumping = true;
    try {
      await drained(inner);
      while (this.queue.length > 0) {
        if (this.failed || this.discarding) return;
        const chunk = this.queue.shift()!;
        this.queued -= chunk.length;
        if (!inner.write(chunk)) await drained(inner);
      }
      if (this.spilledAt !== undefined && !this.failed && !this.discarding) {
        const rest = await this.resume!(this.spilledAt);
        try {
          for await (const chunk of rest) {
            if (this.failed || this.discarding) return;
            if (!inner.write(chunk)) await drained(inner);
          }
        } finally {
          rest.destroy();
        }
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    } finally {
      this.pumping = false;
    }
    if (this.ended && !this.failed && !this.discarding) inner.end();
  }

  /** Ends the input; the output ends when the decompressor has flushed. */
  end(): void {
    if (this.failed) return;
    this.ended = true;
    this.settle();
    if (this.discarding) return;
    if (!this.inner) this.start(this.head ?? Buffer.alloc(0)).end(this.head ?? Buffer.alloc(0));
    else if (!this.pumping) this.inner.end();
  }

  /** Fails the output with `err` (a verification or transfer failure). */
  fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.settle(err);
    this.inner?.unpipe(this.output);
    this.inner?.destroy();
    this.output.destroy(err);
  }
}

function drained(inner: Transform): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      inner.off('drain', done);
      inner.off('close', done);
      resolve();
    };
    inner.on('drain', done);
    inner.on('close', done);
  });
}
