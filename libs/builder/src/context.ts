/**
 * The build context: the tar the client sent (plain or gzip), unpacked into a private directory with
 * @berth/layer-store's `applyLayer` (its path-escape protections apply), while each entry's checksum is taken
 * from the stream (./tarsum.ts) for COPY/ADD cache keys and history. Then `.dockerignore` is applied (the
 * daemon does it too, so a raw tar sent by any client is filtered as BuildKit does) and the Dockerfile is read.
 */
import { lstatSync, readFileSync, readdirSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import { InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { applyLayer, TarParser, type TarHeader } from '@berth/layer-store';
import { cleanPath, parseDockerignore, PatternMatcher } from './dockerignore.ts';
import { resolveInRoot } from './scoped-path.ts';
import { entryHash, fileSum, hashStrings, typeflagOf } from './tarsum.ts';

/** Where COPY/ADD read from: a directory and the checksums of its entries. */
export interface CopySource {
  readonly root: string;
  /** The checksum of an entry (`sub/a.txt`); the path itself for unknown entries, as dockerd does. */
  hash(rel: string): string;
}

/** A directory whose sums are computed from disk when first asked (COPY --from, downloads, heredocs). */
export class LazySource implements CopySource {
  readonly root: string;
  private readonly sums = new Map<string, string>();

  constructor(root: string) {
    this.root = root;
  }

  hash(rel: string): string {
    const clean = cleanPath(`/${rel}`).slice(1);
    const full = resolveInRoot(this.root, clean);
    const r = path.relative(this.root, full);
    let s = this.sums.get(r);
    if (s === undefined) {
      try {
        s = fileSum(full, r);
      } catch {
        return r;
      }
      this.sums.set(r, s);
    }
    return s;
  }
}

function tarName(name: string): string {
  // tarsum keys entries by the cleaned name: `./a/` → `a`.
  return cleanPath(path.posix.join('.', path.posix.join('/', name)));
}

/** Passes a tar through, gunzipping it first when it is gzip-compressed (the CLI may send either). */
class MaybeGunzip extends Transform {
  private gunzip: Gunzip | undefined;
  private decided = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.decided) {
      this.decided = true;
      if (chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b) {
        this.gunzip = createGunzip();
        this.gunzip.on('data', (d: Buffer) => this.push(d));
        this.gunzip.on('error', (e) => this.destroy(new InvalidArgumentError(`read build context: ${e.message}`)));
      }
    }
    if (!this.gunzip) {
      cb(null, chunk);
      return;
    }
    if (this.gunzip.write(chunk)) cb();
    else this.gunzip.once('drain', () => cb());
  }

  override _flush(cb: TransformCallback): void {
    if (!this.gunzip) {
      cb();
      return;
    }
    this.gunzip.once('end', () => cb());
    this.gunzip.end();
  }
}

export class BuildContext implements CopySource {
  readonly root: string;
  private readonly sums = new Map<string, string>();
  /** Patterns from .dockerignore (applied already; kept for COPY's error text and tests). */
  ignore: PatternMatcher = new PatternMatcher([]);

  private constructor(root: string) {
    this.root = root;
  }

  /** An empty context (a remote Dockerfile without context). */
  static empty(root: string): BuildContext {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    return new BuildContext(root);
  }

  /** Unpacks a context tar (plain or gzip) into `root` (created; removed on failure). */
  static async fromTar(input: Readable, root: string, signal?: AbortSignal): Promise<BuildContext> {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const ctx = new BuildContext(root);
    try {
      let current: { name: string; hash: ReturnType<typeof entryHash> } | undefined;
      const parser = new TarParser({
        entry: (h: TarHeader) => {
          current = {
            name: tarName(h.name),
            hash: entryHash({
              name: h.name, mode: h.mode, uid: h.uid, gid: h.gid, size: h.size, typeflag: typeflagOf(h.type), linkname: h.linkname,
              devmajor: h.devmajor, devminor: h.devminor, xattrs: h.xattrs,
            }),
          };
        },
        data: (chunk: Buffer) => current?.hash.update(chunk),
        entryEnd: () => {
          if (current) ctx.sums.set(current.name, current.hash.digest('hex'));
          current = undefined;
        },
      });
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          try {
            parser.push(chunk);
          } catch (err) {
            cb(new InvalidArgumentError(`read build context: ${(err as Error).message}`));
            return;
          }
          cb(null, chunk);
        },
      });
      pipeline(input, new MaybeGunzip(), tap).catch((e: unknown) => tap.destroy(e as Error));
      await applyLayer(tap, root, { compression: 'none', ...(signal ? { signal } : {}) });
    } catch (err) {
      rmSync(root, { recursive: true, force: true });
      if (err instanceof InvalidArgumentError) throw err;
      throw new InvalidArgumentError(`read build context: ${(err as Error).message}`);
    }
    return ctx;
  }

  hash(rel: string): string {
    const clean = cleanPath(`/${rel}`).slice(1);
    const full = resolveInRoot(this.root, clean);
    const r = path.relative(this.root, full) || '.';
    // An entry the tar did not carry (the root, implicit parents): its path stands for it, as in dockerd.
    return this.sums.get(r) ?? rel;
  }

  /**
   * Reads the Dockerfile (`name` inside the context; `Dockerfile` falls back to `dockerfile`), then applies
   * .dockerignore, which also drops the Dockerfile and .dockerignore when they match.
   */
  readDockerfile(name: string): { name: string; content: Buffer } {
    let file = name;
    const at = (n: string) => resolveInRoot(this.root, cleanPath(`/${n}`).slice(1));
    const isFile = (p: string) => {
      try {
        return lstatSync(p).isFile();
      } catch {
        return false;
      }
    };
    if (!isFile(at(file)) && file === 'Dockerfile' && isFile(at('dockerfile'))) file = 'dockerfile';
    if (!isFile(at(file))) throw new NotFoundError(`Cannot locate specified Dockerfile: ${name}`);
    const content = readFileSync(at(file));
    if (content.length === 0) throw new InvalidArgumentError(`the Dockerfile (${name}) cannot be empty`);
    this.applyDockerignore();
    return { name: file, content };
  }

  private applyDockerignore(): void {
    const file = path.join(this.root, '.dockerignore');
    if (!existsSync(file) || !lstatSync(file).isFile()) return;
    this.ignore = new PatternMatcher(parseDockerignore(readFileSync(file, 'utf8')));
    if (this.ignore.empty) return;
    const walk = (rel: string) => {
      const dir = rel === '' ? this.root : path.join(this.root, rel);
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const r = rel === '' ? e.name : `${rel}/${e.name}`;
        if (this.ignore.matches(r)) {
          // A directory may hold re-included entries (`!dir/keep`): keep walking it and drop only what matches.
          if (e.isDirectory() && this.ignore.hasExclusions) {
            walk(r);
            if (readdirSync(path.join(this.root, r)).length === 0) rmSync(path.join(this.root, r), { recursive: true, force: true });
          } else {
            rmSync(path.join(this.root, r), { recursive: true, force: true });
          }
          this.sums.delete(r);
        } else if (e.isDirectory()) {
          walk(r);
        }
      }
    };
    walk('');
  }

  /** Removes the unpacked context. */
  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** `dir:` sum of a directory (itself and everything below it, sorted), as dockerd computes it for COPY. */
export function dirSum(src: CopySource, rel: string): string {
  const full = resolveInRoot(src.root, rel);
  const sums: string[] = [];
  const walk = (host: string) => {
    const r = path.relative(src.root, host) || '.';
    // The source root itself is not part of the sum (`COPY . /x`), a subdirectory is (`COPY sub /x`).
    if (r !== '.') sums.push(src.hash(r));
    let st;
    try {
      st = lstatSync(host);
    } catch {
      return;
    }
    if (!st.isDirectory()) return;
    for (const name of readdirSync(host).sort()) walk(path.join(host, name));
  };
  walk(full);
  sums.sort();
  return hashStrings('dir', sums);
}
