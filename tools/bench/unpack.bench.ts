// Unpacking the debian image's layer (the gzip blob in /var/lib/berth-images/debian) into a snapshot:
// berth (overlay snapshotter: prepare → applyLayer → commit, diffID verified) vs `umoci unpack` of the same
// OCI layout vs GNU `tar -xzf` of the same blob. Target (issue 4): at or below tar -xzf.
// Every run writes a fresh tree; all trees are deleted after the comparison, so deletion is never timed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LocalContentStore } from '@berth/layer-store';
import { parseManifest, validateImageConfig, layoutBlobPath } from '@berth/oci';
import { OverlaySnapshotter, unpackLayers } from '@berth/snapshotter';
import { imageLayout } from '@berth/testing';
import { compare } from './harness.ts';

const layout = imageLayout('debian');
const index = parseManifest(readFileSync(path.join(layout, 'index.json')));
if (index.kind !== 'index') throw new Error('debian layout: index.json is not an index');
const mdesc = index.index.manifests[0]!;
const manifest = parseManifest(readFileSync(path.join(layout, layoutBlobPath(mdesc.digest))), mdesc.mediaType);
if (manifest.kind !== 'manifest') throw new Error('debian layout: not an image manifest');
const config = validateImageConfig(JSON.parse(readFileSync(path.join(layout, layoutBlobPath(manifest.manifest.config.digest)), 'utf8')));
const layers = manifest.manifest.layers;
const layerFiles = layers.map((l) => path.join(layout, layoutBlobPath(l.digest)));
const tag = mdesc.annotations?.['org.opencontainers.image.ref.name'] ?? 'latest';

const work = mkdtempSync('/var/tmp/berth-bench-unpack-');
let n = 0;
const fresh = (what: string) => {
  const d = path.join(work, `${what}-${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

// The content store reads the layout's blob files in place: a store rooted at the layout dir.
const store = new LocalContentStore(layout);
const runs = Number(process.env.BENCH_RUNS ?? 7);
const warmup = 1;
// One fresh snapshotter per run (the chainID would already exist in a reused one), opened before timing.
const snapshotters: OverlaySnapshotter[] = [];

try {
  const result = await compare({
    title: `unpack debian (${layers.length} layer, ${(layers.reduce((s, l) => s + l.size, 0) / 1e6).toFixed(1)} MB gzip) into a snapshot`,
    berth: {
      name: 'berth (overlay snapshot)',
      before: async () => {
        for (let i = 0; i < runs + warmup; i++) snapshotters.push(await OverlaySnapshotter.open(fresh('berth')));
      },
      run: async () => {
        const s = snapshotters.shift()!;
        await unpackLayers(s, layers, config.rootfs.diff_ids, { open: (d) => store.read(d.digest) });
        await s.close();
      },
      after: async () => {
        for (const s of snapshotters) await s.close();
      },
    },
    references: [
      {
        name: 'tar -xzf',
        run: async () => {
          const d = fresh('tar');
          for (const f of layerFiles) execFileSync('tar', ['--numeric-owner', '-xzf', f, '-C', d]);
        },
      },
      {
        name: 'umoci unpack',
        run: async () => {
          execFileSync('umoci', ['unpack', '--image', `${layout}:${tag}`, path.join(fresh('umoci'), 'bundle')], { stdio: 'ignore' });
        },
      },
    ],
    runs,
    warmup,
    target: { reference: 'tar -xzf', ratio: 1 },
  });
  if (result.targetMet === false) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
