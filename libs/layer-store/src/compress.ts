/** Compressing a layer tar for storage while computing both its diffID and its blob digest in one pass. */
import { createHash } from 'node:crypto';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { Compression, Digest } from '@berth/oci';

export interface CompressedLayer {
  /** The blob bytes (compressed as asked). Consume it; `done` settles when it has been read to the end. */
  stream: Readable;
  done: Promise<{ diffID: Digest; uncompressedSize: number; digest: Digest; size: number }>;
}

class Hasher extends Transform {
  readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

/** Compresses a tar stream (gzip by default, level 6 like Docker; zstd level 3 like containerd). */
export function compressLayer(tar: Readable, compression: Compression = 'gzip'): CompressedLayer {
  const before = new Hasher();
  const after = new Hasher();
  const out = new PassThrough();
  const stages: NodeJS.ReadWriteStream[] = [before];
  if (compression === 'gzip') stages.push(zlib.createGzip({ level: 6 }));
  else if (compression === 'zstd') stages.push(zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } }));
  stages.push(after);
  const done = pipeline(tar, ...(stages as [NodeJS.ReadWriteStream]), out).then(() => ({
    diffID: `sha256:${before.hash.digest('hex')}` as Digest,
    uncompressedSize: before.size,
    digest: `sha256:${after.hash.digest('hex')}` as Digest,
    size: after.size,
  }));
  // Errors surface through both: the stream (for the consumer) and `done`.
  done.catch(() => {});
  return { stream: out, done };
}
