import { LocalContentStore, applyLayer } from '@berth/layer-store';
import { RegistryClient } from './src/index.ts';
import { mkdtempSync, mkdirSync, readdirSync } from 'node:fs';
const dir = mkdtempSync('/tmp/dscratch/cs-');
const cs = await LocalContentStore.open(dir + '/content');
const client = new RegistryClient({ mirrors: ['http://127.0.0.1:5000'] });
for (const ref of ['127.0.0.1:5000/library/busybox', 'hello-world', 'debian']) {
  const t0 = Date.now();
  const root = `${dir}/rootfs-${ref.replace(/\W/g, '_')}`;
  mkdirSync(root);
  const r = await client.pull(ref, {
    contentStore: cs,
    onProgress: (e) => { if (e.status !== 'Downloading' && e.status !== 'Extracting') console.log(JSON.stringify(e)); },
    unpack: { apply: async (l, c) => { const res = await applyLayer(c.stream, root, { expectedDiffID: l.diffId, compression: 'none' }); await c.verified; console.log('applied', res.diffID, res.entries); } },
  });
  console.log(ref, r.name, r.target.digest, r.layers.length, Date.now() - t0, 'ms', readdirSync(root).length);
}
try { await client.pull('127.0.0.1:5000/nosuch', { contentStore: cs }); } catch (e) { console.log('ERR', (e as Error).constructor.name, (e as Error).message); }
try { await client.pull('nosuch', { contentStore: cs }); } catch (e) { console.log('ERR', (e as Error).constructor.name, (e as Error).message); }
try { await client.pull('127.0.0.1:5999/nosuch', { contentStore: cs }); } catch (e) { console.log('ERR', (e as Error).constructor.name, (e as Error).message); }
client.close();
