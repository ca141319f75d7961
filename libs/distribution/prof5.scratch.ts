import { mkdtempSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import zlib from 'node:zlib';
import { RegistryClient, snapshotUnpacker } from './src/index.ts';
import { LocalContentStore, END_OF_ARCHIVE, encodeHeader, paddingFor } from '@berth/layer-store';
import { OverlaySnapshotter } from '@berth/snapshotter';
import { startRegistry, startDockerd } from '@berth/testing';
import { buildImage } from './src/test-support.ts';
const work = mkdtempSync('/var/tmp/dprof-');
const reg = await startRegistry(work + '/reg');
const dockerd = await startDockerd(work + '/dockerd');
const tarEntry = (name: string, body: Buffer) => [encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0, xattrs: {} }), body, paddingFor(body.length)];
const deb = zlib.gunzipSync(readFileSync('/var/lib/berth-images/debian/blobs/sha256/3d1c9d2d48b7a9c1dbfa5abee26fd5b0859c4a72ea16f174dd625e5aad761170'));
async function image(i: number) {
  const src = await LocalContentStore.open(mkdtempSync(work + '/src-'));
  let end = deb.length; while (end > 0 && deb[end - 1] === 0) end--;
  const layers = [Buffer.concat([deb.subarray(0, Math.ceil(end / 512) * 512), ...tarEntry(`etc/x${i}`, randomBytes(8)), END_OF_ARCHIVE])];
  for (let l = 0; l < 4; l++) layers.push(Buffer.concat([...tarEntry(`data/l${l}.bin`, randomBytes(60 << 20)), END_OF_ARCHIVE]));
  const img = await buildImage(src, layers);
  const c0 = new RegistryClient();
  await c0.push(`${reg.addr}/p/x${i}:latest`, { contentStore: src, target: img.manifest });
  c0.close();
}
await image(0); await image(1);
console.log('ready');
for (const who of ['docker', 'berth']) {
  const t0 = Date.now();
  if (who === 'docker') {
    await new Promise<void>((resolve) => {
      const p = spawn('docker', ['pull', `${reg.addr}/p/x0:latest`], { env: dockerd.env });
      let buf = '';
      p.stdout.on('data', (d) => { buf += d; const lines = buf.split(/[\r\n]/); buf = lines.pop()!; for (const l of lines) if (/complete|Extracting|Verifying/.test(l) && !/Extracting.*\[/.test(l)) console.log(Date.now() - t0, l.trim()); });
      p.on('close', () => resolve());
    });
  } else {
    const client = new RegistryClient();
    const cs = await LocalContentStore.open(mkdtempSync(work + '/cs-'));
    const snap = await OverlaySnapshotter.open(mkdtempSync(work + '/sn-'), { skipCheck: true });
    await client.pull(`${reg.addr}/p/x1:latest`, { contentStore: cs, unpack: snapshotUnpacker(snap), onProgress: (e) => { if (/complete|Extracting/.test(e.status) && (e.status !== 'Extracting' || e.current === e.total)) console.log(Date.now() - t0, e.id, e.status); } });
    client.close();
  }
  console.log(who, 'total', Date.now() - t0);
}
await dockerd.stop(); await reg.stop();
