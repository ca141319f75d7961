// Turns a root filesystem into a one-layer OCI image layout (oci-layout, index.json, blobs/sha256/*):
// GNU tar writes the layer (sorted names, numeric owners, xattrs), Node hashes it before and after gzip.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { ImageRecipe } from './rootfs.ts';

/** A fixed creation time keeps the image configs (and so the image IDs) stable from build to build. */
const CREATED = '2026-01-01T00:00:00Z';

interface Blob { digest: string; size: number }

function hashing(): { stream: Transform; result: () => Blob } {
  const h = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, result: () => ({ digest: `sha256:${h.digest('hex')}`, size }) };
}

function writeBlob(layout: string, bytes: string): Blob {
  const digest = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(layout, 'blobs/sha256', digest), bytes);
  return { digest: `sha256:${digest}`, size: Buffer.byteLength(bytes) };
}

export async function writeLayout(recipe: ImageRecipe, rootfs: string, layout: string): Promise<void> {
  mkdirSync(path.join(layout, 'blobs/sha256'), { recursive: true });
  const entries = readdirSync(rootfs).sort();
  const tar = spawn('tar', ['--sort=name', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', rootfs, '-cf', '-', ...entries], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number>((resolve) => tar.on('close', (code) => resolve(code ?? 1)));
  const uncompressed = hashing();
  const compressed = hashing();
  const tmp = path.join(layout, 'blobs/sha256/.layer.tmp');
  await pipeline(tar.stdout, uncompressed.stream, createGzip({ level: 6 }), compressed.stream, createWriteStream(tmp));
  if (await exited !== 0) throw new Error(`tar of ${rootfs} failed`);
  const layer = compressed.result();
  const diffId = uncompressed.result().digest;
  renameSync(tmp, path.join(layout, 'blobs/sha256', layer.digest.slice('sha256:'.length)));

  const history = [{ created: CREATED, created_by: recipe.createdBy }];
  if (recipe.config.Cmd) history.push({ created: CREATED, created_by: `CMD ${JSON.stringify(recipe.config.Cmd)}`, empty_layer: true } as never);
  const config = writeBlob(layout, JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: CREATED,
    config: recipe.config,
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history,
  }));
  const manifest = writeBlob(layout, JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  }));
  writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifest,
      annotations: { 'org.opencontainers.image.ref.name': 'latest' },
    }],
  }));
}
