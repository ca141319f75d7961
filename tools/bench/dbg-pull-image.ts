// TEMPORARY (not committed): pushes one pull-bench-like image to 127.0.0.1:5000/bench/dbg:N
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { RegistryClient } from '@berth/distribution';
import { LocalContentStore, END_OF_ARCHIVE, childGcLabels, encodeHeader, paddingFor, writeBlob } from '@berth/layer-store';
import { type Descriptor, type Digest, type ImageConfig, type ImageManifest, MediaTypeImageConfig, MediaTypeImageLayerGzip, MediaTypeImageManifest,
  digestOf, layoutBlobPath, parseManifest, validateImageConfig } from '@berth/oci';
import { imageLayout, tempDir } from '@berth/testing';
const i = process.argv[2]!;
const tarEntry = (name: string, body: Buffer) => [encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 1_700_000_000,
  linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0, xattrs: {} }), body, paddingFor(body.length)];
const layout = imageLayout('debian');
const idx = parseManifest(readFileSync(path.join(layout, 'index.json')));
if (idx.kind !== 'index') throw new Error('x');
const dm = parseManifest(readFileSync(path.join(layout, layoutBlobPath(idx.index.manifests[0]!.digest))));
if (dm.kind !== 'manifest') throw new Error('x');
const debianTar = zlib.gunzipSync(readFileSync(path.join(layout, layoutBlobPath(dm.manifest.layers[0]!.digest))));
const debianConfig = validateImageConfig(JSON.parse(readFileSync(path.join(layout, layoutBlobPath(dm.manifest.config.digest)), 'utf8')));
let end = debianTar.length; while (end > 0 && debianTar[end - 1] === 0) end--;
const debianBody = debianTar.subarray(0, Math.ceil(end / 512) * 512);
using d = tempDir();
const cs = await LocalContentStore.open(d.path);
const tars = [Buffer.concat([debianBody, ...tarEntry(`etc/dbg-${i}`, randomBytes(8)), END_OF_ARCHIVE])];
for (let l = 0; l < 4; l++) tars.push(Buffer.concat([...tarEntry(`data/layer-${l}.bin`, randomBytes(60 << 20)), END_OF_ARCHIVE]));
const layers: Descriptor[] = []; const diffIds: Digest[] = [];
for (const [k, t] of tars.entries()) {
  const gz = zlib.gzipSync(t, { level: k === 0 ? 6 : 1 });
  const dd: Descriptor = { mediaType: MediaTypeImageLayerGzip, digest: digestOf(gz), size: gz.length };
  await writeBlob(cs, `b-${dd.digest}`, gz, dd); layers.push(dd); diffIds.push(digestOf(t));
}
const cb = Buffer.from(JSON.stringify({ ...debianConfig, rootfs: { type: 'layers', diff_ids: diffIds } } as ImageConfig));
const cd: Descriptor = { mediaType: MediaTypeImageConfig, digest: digestOf(cb), size: cb.length };
await writeBlob(cs, `b-${cd.digest}`, cb, cd);
const m: ImageManifest = { schemaVersion: 2, mediaType: MediaTypeImageManifest, config: cd, layers };
const mb = Buffer.from(JSON.stringify(m));
const md: Descriptor = { mediaType: MediaTypeImageManifest, digest: digestOf(mb), size: mb.length };
await writeBlob(cs, `b-${md.digest}`, mb, md, { labels: childGcLabels(m) });
const c = new RegistryClient({ insecureRegistries: ['127.0.0.1:5000'] } as never);
await c.push(`127.0.0.1:5000/bench/dbg:${i}`, { contentStore: cs, target: md });
c.close();
console.log('pushed', layers.map((l) => l.digest.slice(7, 11)).join(' '));
