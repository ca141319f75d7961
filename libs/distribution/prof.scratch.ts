// Profile: build one bench image, push, then time pull phases.
import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { RegistryClient, snapshotUnpacker } from './src/index.ts';
import { LocalContentStore, END_OF_ARCHIVE, encodeHeader, paddingFor, applyLayer } from '@berth/layer-store';
import { OverlaySnapshotter } from '@berth/snapshotter';
import { startRegistry } from '@berth/testing';
import { buildImage } from './src/test-support.ts';
const work = mkdtempSync('/var/tmp/dprof-');
const reg = await startRegistry(work + '/reg');
const src = await LocalContentStore.open(work + '/src');
const tarEntry = (name: string, body: Buffer) => [encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0, xattrs: {} }), body, paddingFor(body.length)];
const layers = [zlib.gunzipSync(readFileSync('/var/lib/berth-images/debian/blobs/sha256/3d1c9d2d48b7a9c1dbfa5abee26fd5b0859c4a72ea16f174dd625e5aad761170'))];
for (let l = 0; l < 4; l++) layers.push(Buffer.concat([...tarEntry(`data/l${l}.bin`, randomBytes(60 << 20)), END_OF_ARCHIVE]));
const img = await buildImage(src, layers);
const c0 = new RegistryClient();
await c0.push(`${reg.addr}/p/x:latest`, { contentStore: src, target: img.manifest });
c0.close();
const mode = process.argv[2] ?? 'all';
for (const m of ['nounpack', 'unpack', 'nounpack', 'unpack']) {
  const client = new RegistryClient();
  const cs = await LocalContentStore.open(mkdtempSync(work + '/cs-'));
  const snap = await OverlaySnapshotter.open(mkdtempSync(work + '/sn-'), { skipCheck: true });
  const t0 = Date.now();
  const marks: string[] = [];
  await client.pull(`${reg.addr}/p/x:latest`, { contentStore: cs, ...(m === 'unpack' ? { unpack: snapshotUnpacker(snap) } : {}),
    onProgress: (e) => { if (['Download complete', 'Pull complete', 'Extracting'].includes(e.status) && (e.status !== 'Extracting' || e.current === e.total)) marks.push(`${e.id} ${e.status} ${Date.now() - t0}`); } });
  console.log(m, Date.now() - t0, 'ms');
  console.log('  ' + [...new Set(marks)].join('\n  '));
  client.close();
}
await reg.stop();
