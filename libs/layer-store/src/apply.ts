/**
 * Applying a layer (a tar, plain, gzip or zstd) onto a directory, the way containerd's and Docker's appliers
 * do, computing its diffID (sha256 of the uncompressed tar) on the way.
 *
 * Two whiteout modes:
 * - `remove`: the target is a full tree (a native snapshot, a plain rootfs); `.wh.name` deletes `name`,
 *   `.wh..wh..opq` deletes what lower layers left in the directory.
 * - `overlay`: the target is an overlayfs upper dir; whiteouts become char 0/0 nodes and opaque directories
 *   get `trusted.overlay.opaque=y`. `lowerDirs` (top first) let parents that exist only below be copied up
 *   with their metadata, symlinked parents be followed, and hard links to lower files be copied up.
 *
 * Safety: every parent path is resolved component by component inside the target (symlinks followed as if
 * the target were `/`); entries with absolute names, names or link targets that climb out with `..`, and
 * symlinked parents that lead out are refused. Limits on entries, bytes and compression ratio stop bombs.
 * Extraction is synchronous per chunk (one syscall per operation, file data written straight from the
 * decompressor's buffers) while decompression runs on libuv's threads. (Writing files from libuv's threads
 * with a bounded number in flight was measured too: no faster on ext4, slower on tmpfs, so not kept.)
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { FailedPreconditionError, InvalidArgumentError, ResourceExhaustedError, wrap } from '@berth/errdefs';
import { detectCompression, type Compression, type Digest } from '@berth/oci';
import { DEFAULT_MAX_BYTES, LayerApplier } from './layer-applier.ts';
import { TarFormatError } from './tar-header.ts';
import { TarParser } from './tar-reader.ts';

export {
  WHITEOUT_PREFIX, WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE, OVERLAY_OPAQUE_XATTR, LowerLayersNeededError, needsLowerLayers,
  settleImplicitDirs,
} from './layer-applier.ts';

export interface ApplyOptions {
  /** `remove` (default) for a full tree; `overlay` for an overlayfs upper dir. */
  whiteouts?: 'remove' | 'overlay';
  /** overlay mode: the lower dirs under the target, top first. */
  lowerDirs?: string[];
  /**
   * Overlay mode with the layers below unknown (they may not be applied yet), so layers can be applied in
   * parallel: the target gets exactly what the overlay mode would write on top of any lowers. An entry whose
   * result depends on the lowers (a parent directory or hard-link target not in this layer) stops the apply
   * with LowerLayersNeededError (`needsLowerLayers(err)`); the caller then applies the layer again on its
   * parent. Ignores `whiteouts` and `lowerDirs`.
   */
  detached?: boolean;
  /** overlay mode: a char 0/0 node on the target's filesystem to hard-link whiteouts to (see whiteoutTemplate). */
  whiteoutTemplate?: string;
  /** Compression of the stream; `auto` (default) sniffs it. */
  compression?: Compression | 'auto';
  /** Most entries accepted (default 1,000,000). */
  maxEntries?: number;
  /** Most uncompressed bytes, and most apparent bytes of files (sparse sizes count) (default 64 GiB). */
  maxBytes?: number;
  /** Largest uncompressed/compressed ratio once past 256 MiB uncompressed (default 1000; deflate tops at 1032). */
  maxRatio?: number;
  /** Fail (after extraction) unless the uncompressed stream has this digest. */
  expectedDiffID?: Digest;
  /** Skip chown (for a non-root caller); default: chown when running as root. */
  noChown?: boolean;
  signal?: AbortSignal;
  /** Called after each chunk with what has been read so far. */
  onProgress?: (p: { compressedBytes: number; bytes: number; entries: number }) => void;
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar stream. */
  diffID: Digest;
  /** Uncompressed bytes. */
  size: number;
  compressedSize: number;
  entries: number;
  /**
   * detached: directories this layer lacks that were made (0755) to hold its entries, parents first; settle
   * them with settleImplicitDirs once the layers below are known.
   */
  implicitDirs?: string[];
}

const DEFAULT_MAX_RATIO = 1000;
const RATIO_FLOOR = 256 * 2 ** 20;
const CHUNK = 256 * 1024;

function toReadable(source: Readable | AsyncIterable<Uint8Array> | Uint8Array): Readable {
  if (source instanceof Readable) return source;
  if (source instanceof Uint8Array) return Readable.from([source]);
  return Readable.from(source);
}

/** Passes the first bytes through unchanged after deciding which decompressor (if any) follows. */
async function* peek(src: Readable, onHead: (head: Buffer) => void, count: (n: number) => void): AsyncGenerator<Buffer> {
  let first = true;
  for await (const chunk of src) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    if (first) {
      onHead(b);
      first = false;
    }
    count(b.length);
    yield b;
  }
}

/**
 * Applies a layer stream onto `target` (created if missing) and returns its diffID. On failure the error says
 * what and where; if `target` did not exist before, it is removed, otherwise the caller discards it (the
 * snapshot being prepared is the unit of atomicity).
 */
export async function applyLayer(source: Readable | AsyncIterable<Uint8Array> | Uint8Array, target: string,
  opts: ApplyOptions = {}): Promise<ApplyResult> {
  const created = !existsSync(target);
  mkdirSync(target, { recursive: true, mode: 0o755 });
  const root = realpathSync(target);
  const applier = new LayerApplier(root, opts);
  const parser = new TarParser(applier);
  const hash = createHash('sha256');
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRatio = opts.maxRatio ?? DEFAULT_MAX_RATIO;
  let size = 0;
  let compressedSize = 0;
  let compression: Compression = opts.compression && opts.compression !== 'auto' ? opts.compression : 'none';
  const raw = toReadable(source);
  try {
    // Sniff the compression from the first chunk, then build the rest of the pipeline.
    const it = peek(raw, (head) => {
      if (!opts.compression || opts.compression === 'auto') compression = detectCompression(head);
    }, (n) => (compressedSize += n));
    const firstResult = await it.next();
    const rest = async function* () {
      if (!firstResult.done) yield firstResult.value;
      yield* it;
    };
    const decompressor = compression === 'gzip' ? zlib.createGunzip({ chunkSize: CHUNK })
      : compression === 'zstd' ? zlib.createZstdDecompress({ chunkSize: CHUNK }) : undefined;
    const consume = async (src: AsyncIterable<Buffer>) => {
      for await (const chunk of src) {
        opts.signal?.throwIfAborted();
        hash.update(chunk);
        size += chunk.length;
        if (size > maxBytes) throw new ResourceExhaustedError(`layer exceeds ${maxBytes} uncompressed bytes`);
        if (compression !== 'none' && size > RATIO_FLOOR && size / Math.max(compressedSize, 1) > maxRatio) {
          throw new ResourceExhaustedError(`layer decompresses more than ${maxRatio} times its size (a decompression bomb?)`);
        }
        if (!parser.ended) parser.push(chunk);
        opts.onProgress?.({ compressedBytes: compressedSize, bytes: size, entries: applier.entries });
      }
    };
    const src = Readable.from(rest());
    if (decompressor) await pipeline(src, decompressor, consume, { signal: opts.signal });
    else await pipeline(src, consume, { signal: opts.signal });
    parser.end();
    applier.finish();
  } catch (err) {
    applier.abort();
    raw.destroy();
    if (created) rmSync(root, { recursive: true, force: true });
    if (err instanceof TarFormatError) throw new InvalidArgumentError(`apply layer to ${target}: invalid tar: ${err.message}`, { cause: err });
    throw wrap(err, `apply layer to ${target}`);
  }
  const diffID: Digest = `sha256:${hash.digest('hex')}`;
  if (opts.expectedDiffID && opts.expectedDiffID !== diffID) {
    if (created) rmSync(root, { recursive: true, force: true });
    throw new FailedPreconditionError(`apply layer to ${target}: diffID ${diffID} does not match the expected ${opts.expectedDiffID}`);
  }
  const implicit = applier.implicitDirs.length ? { implicitDirs: applier.implicitDirs } : {};
  return { diffID, size, compressedSize, entries: applier.entries, ...implicit };
}
