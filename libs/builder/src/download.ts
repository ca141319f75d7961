/**
 * `ADD <url>`: the file is fetched into the build's scratch space (progress as Docker's `Downloading`
 * messages), named after the URL's last path element or the Content-Disposition filename, mode 0600, mtime
 * from Last-Modified (else the epoch) — then copied like a context file and never unpacked. `--checksum`
 * is verified.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { InvalidArgumentError, UnavailableError } from '@berth/errdefs';
import { LazySource } from './context.ts';
import type { OutputChannel } from './output.ts';

function filenameFor(url: URL, disposition: string | null): string {
  const p = decodeURIComponent(url.pathname);
  if (p !== '' && !p.endsWith('/')) {
    const base = path.posix.basename(p);
    if (base) return base;
  }
  const m = disposition ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition) : null;
  if (m && !m[1]!.endsWith('/')) return path.posix.basename(m[1]!);
  return '';
}

export async function download(
  src: string, scratch: string, out: OutputChannel, signal: AbortSignal, checksum: string,
): Promise<{ source: LazySource; path: string }> {
  let url: URL;
  try {
    url = new URL(src);
  } catch {
    throw new InvalidArgumentError(`invalid URL ${src}`);
  }
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'follow' });
  } catch (err) {
    throw new UnavailableError(`Get "${src}": ${(err as Error).message}`);
  }
  if (res.status >= 400) throw new UnavailableError(`failed to GET ${src} with status ${res.status} ${res.statusText}: ${(await res.text()).slice(0, 200)}`);
  const name = filenameFor(url, res.headers.get('content-disposition')) || '__unnamed__';
  const dir = mkdtempSync(path.join(scratch, 'download-'));
  const file = path.join(dir, name);
  const total = Number(res.headers.get('content-length') ?? 0);
  let current = 0;
  let last = 0;
  const hash = createHash('sha256');
  const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  body.on('data', (c: Buffer) => {
    current += c.length;
    hash.update(c);
    const now = Date.now();
    if (now - last > 100) {
      last = now;
      out.progress({ status: 'Downloading', progressDetail: { current, total }, id: '' });
    }
  });
  await pipeline(body, createWriteStream(file, { mode: 0o600 }), { signal });
  out.progress({ status: 'Downloading', progressDetail: { current, total }, id: '' });
  out.stream('\n');
  if (checksum) {
    const got = `sha256:${hash.digest('hex')}`;
    if (!checksum.startsWith('sha256:')) throw new InvalidArgumentError(`unsupported digest algorithm in checksum ${checksum}`);
    if (got !== checksum) throw new InvalidArgumentError(`digest mismatch ${got}: ${checksum}`);
  }
  const lm = res.headers.get('last-modified');
  const mtime = lm && !Number.isNaN(Date.parse(lm)) ? new Date(lm) : new Date(0);
  utimesSync(file, mtime, mtime);
  return { source: new LazySource(dir), path: name };
}
