/**
 * Turns compressed layer bytes, written chunk by chunk, into a decompressed stream for an unpacker. The
 * compression is sniffed from the first bytes (gzip, zstd or none: registries mislabel layers often enough
 * that Docker sniffs too). The output ends only after `end()`, which the pull calls once the blob has been
 * verified, so a consumer never sees a clean end of unverified data. A consumer that destroys the output early
 * (an apply that failed or gave up) never holds up the writer: the rest is discarded.
 */
import { PassThrough, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import { detectCompression } from '@berth/oci';

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

  constructor() {
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
    const c = detectCompression(head);
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
    if (this.discarding) return;
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
      await new Promise<void>((resolve) => {
        const done = () => {
          inner.off('drain', done);
          inner.off('close', done);
          resolve();
        };
        inner.on('drain', done);
        inner.on('close', done);
      });
    }
  }

  /** Ends the input; the output ends when the decompressor has flushed. */
  end(): void {
    if (this.failed) return;
    this.settle();
    if (this.discarding) return;
    if (!this.inner) this.start(this.head ?? Buffer.alloc(0)).end(this.head ?? Buffer.alloc(0));
    else this.inner.end();
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
