// Cold pull of a multi-layer ~300 MB image from a loopback registry: berth vs `docker pull` on a private dockerd
// (overlay2), alternating. Target (issue 5): berth ≤ 0.6× docker.
//
// berth is measured on the path users take: the docker CLI's `docker pull` against a private berthd (this
// checkout's bundle, see engine-common.ts), whose berth-runtimed (apps/runtimed/dist: run `npm run build` there
// first) runs the pull job: @berth/distribution into its content store, unpacked into overlay snapshots in the
// same pass. `BENCH_PULL_PATH=lib` measures the library alone instead (RegistryClient.pull into a fresh
// LocalContentStore + OverlaySnapshotter in this process), for profiling.
//
// Every run must be cold for both. Docker keeps what it pulled, so each run pulls a different image: the
// images share nothing (a debian layer made unique by one extra file, plus four layers of random data), and
// run i of berth and run i of docker pull the same image i. Everything is deleted after the comparison, so
// deletion is never timed. `BENCH_VERBOSE=1` prints when each layer's download and pull completed (and, for the
// library path, the CPU time the pull took). `BENCH_DIR` puts the work somewhere else than /var/tmp: on this
// machine's root filesystem, creating files within minutes of a large deletion (an earlier benchmark's cleanup, a
// test suite) is several times slower on both sides (perf: inode allocation in ext4's recently_deleted()), so
// such runs measure the filesystem; a fresh filesystem (e.g. an ext4 image mounted on a loop device) does not.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { RegistryClient, snapshotUnpacker } from '@berth/distribution';
import { LocalContentStore, END_OF_ARCHIVE, childGcLabels, encodeHeader, paddingFor, writeBlob } from '@berth/layer-store';
import {
  type Descriptor, type Digest, type ImageConfig, type ImageManifest, MediaTypeImageConfig, MediaTypeImageLayerGzip, MediaTypeImageManifest,
  digestOf, layoutBlobPath, parseManifest, validateImageConfig,
} from '@berth/oci';
import { OverlaySnapshotter } from '@berth/snapshotter';
import { imageLayout, startDockerd, startRegistry } from '@berth/testing';
import { compare } from './harness.ts';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const warmup = 1;
const randomLayers = 4;
const randomLayerSize = 60 << 20;

// BENCH_DIR: where the registry, the content stores and docker's data root go (default /var/tmp).
const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? '/var/tmp', 'berth-bench-pull-'));
// berthd's data root (engine-common's tempDir) goes there too.
if (process.env.BENCH_DIR) process.env.TMPDIR = process.env.BENCH_DIR;
let n = 0;
const fresh = (what: string) => {
  const d = path.join(work, `${what}-${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

function tarEntry(name: string, body: Buffer): Buffer[] {
  const h = {
    name, type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 1_700_000_000, linkname: '', uname: '', gname: '',
    devmajor: 0, devminor: 0, xattrs: {},
  };
  return [encodeHeader(h), body, paddingFor(body.length)];
}

// The debian base layer, uncompressed once; each image appends a unique file before END_OF_ARCHIVE.
const layout = imageLayout('debian');
const idx = parseManifest(readFileSync(path.join(layout, 'index.json')));
if (idx.kind !== 'index') throw new Error('debian layout: index.json is not an index');
const dm = parseManifest(readFileSync(path.join(layout, layoutBlobPath(idx.index.manifests[0]!.digest))));
if (dm.kind !== 'manifest') throw new Error('debian layout: not a manifest');
const debianTar = zlib.gunzipSync(readFileSync(path.join(layout, layoutBlobPath(dm.manifest.layers[0]!.digest))));
const debianConfig = validateImageConfig(JSON.parse(readFileSync(path.join(layout, layoutBlobPath(dm.manifest.config.digest)), 'utf8')));
// A tar ends with two zero blocks (and maybe padding to a record): cut at the last non-zero byte's block.
let end = debianTar.length;
while (end > 0 && debianTar[end - 1] === 0) end--;
const debianBody = debianTar.subarray(0, Math.ceil(end / 512) * 512);

async function makeImage(cs: LocalContentStore, i: number): Promise<{ manifest: Descriptor; size: number }> {
  const tars = [Buffer.concat([debianBody, ...tarEntry(`etc/bench-image-${i}`, Buffer.from(randomBytes(16).toString('hex'))), END_OF_ARCHIVE])];
  for (let l = 0; l < randomLayers; l++) {
    tars.push(Buffer.concat([...tarEntry(`data/layer-${l}.bin`, randomBytes(randomLayerSize)), END_OF_ARCHIVE]));
  }
  const layers: Descriptor[] = [];
  const diffIds: Digest[] = [];
  for (const [k, t] of tars.entries()) {
    const gz = zlib.gzipSync(t, { level: k === 0 ? 6 : 1 });
    const d: Descriptor = { mediaType: MediaTypeImageLayerGzip, digest: digestOf(gz), size: gz.length };
    await writeBlob(cs, `bench-${d.digest}`, gz, d);
    layers.push(d);
    diffIds.push(digestOf(t));
  }
  const config: ImageConfig = { ...debianConfig, rootfs: { type: 'layers', diff_ids: diffIds } };
  const cb = Buffer.from(JSON.stringify(config));
  const cd: Descriptor = { mediaType: MediaTypeImageConfig, digest: digestOf(cb), size: cb.length };
  await writeBlob(cs, `bench-${cd.digest}`, cb, cd);
  const m: ImageManifest = { schemaVersion: 2, mediaType: MediaTypeImageManifest, config: cd, layers };
  const mb = Buffer.from(JSON.stringify(m));
  const md: Descriptor = { mediaType: MediaTypeImageManifest, digest: digestOf(mb), size: mb.length };
  await writeBlob(cs, `bench-${md.digest}`, mb, md, { labels: childGcLabels(m) });
  return { manifest: md, size: layers.reduce((s, l) => s + l.size, 0) };
}

const verbose = !!process.env.BENCH_VERBOSE;

/** `docker pull` of `ref` through the daemon `env` names; with BENCH_VERBOSE, when each layer's download and pull completed. */
function dockerPull(who: string, env: NodeJS.ProcessEnv, ref: string): Promise<void> {
  const t0 = Date.now();
  const marks: string[] = [];
  return new Promise<void>((resolve, reject) => {
    const child = spawn('docker', ['pull', ...(verbose ? [] : ['-q']), ref], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^([0-9a-f]{12}): (Download complete|Pull complete)/.exec(line);
      if (m) marks.push(`${m[1]!.slice(0, 4)} ${m[2]} ${Date.now() - t0}`);
    });
    child.on('exit', (code) => {
      if (verbose) console.log(`  ${who} run: ${Date.now() - t0} ms\n    ${marks.join(', ')}`);
      if (code === 0) resolve();
      else reject(new Error(`${who}: docker pull ${ref}: exit ${code}: ${stderr}`));
    });
  });
}

const cleanups: (() => Promise<void>)[] = [];
const reg = await startRegistry(fresh('registry'));
const dockerd = await startDockerd(fresh('dockerd'), { extraArgs: [`--insecure-registry=${reg.addr}`] });
try {
  // Build and push one image per run (warmup included).
  const src = await LocalContentStore.open(fresh('source'));
  const pusher = new RegistryClient();
  const refs: string[] = [];
  let size = 0;
  for (let i = 0; i < warmup + runs; i++) {
    const img = await makeImage(src, i);
    size = img.size;
    const ref = `${reg.addr}/bench/image-${i}:latest`;
    await pusher.push(ref, { contentStore: src, target: img.manifest });
    refs.push(ref);
  }
  pusher.close();
  rmSync(src.root, { recursive: true, force: true });

  let berthRun = 0;
  let dockerRun = 0;
  const viaLib = process.env.BENCH_PULL_PATH === 'lib';
  const berthd = viaLib ? undefined : await (await import('./engine-common.ts')).startBerth();
  cleanups.push(async () => berthd?.stop());
  const result = await compare({
    title: `cold pull of a ${1 + randomLayers}-layer ${(size / 1e6).toFixed(0)} MB image from a loopback registry, unpacked`,
    berth: viaLib ? {
      name: 'berth (library: pull + overlay unpack)',
      run: async () => {
        const client = new RegistryClient();
        const cs = await LocalContentStore.open(fresh('berth-content'));
        const snapshotter = await OverlaySnapshotter.open(fresh('berth-snapshots'), { skipCheck: true });
        const t0 = Date.now();
        const c0 = process.cpuUsage();
        try {
          const marks: string[] = [];
          await client.pull(refs[berthRun++]!, {
            contentStore: cs, unpack: snapshotUnpacker(snapshotter),
            ...(verbose ? { onProgress: (e) => /complete/.test(e.status) && marks.push(`${e.id.slice(0, 4)} ${e.status} ${Date.now() - t0}`) } : {}),
          });
          if (verbose) {
            const cpu = process.cpuUsage(c0);
            console.log(`  berth run ${berthRun}: ${Date.now() - t0} ms (cpu: user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms)\n    ${marks.join(', ')}`);
          }
        } finally {
          client.close();
          await snapshotter.close();
        }
      },
    } : {
      name: 'berth (docker pull via berthd)',
      run: () => dockerPull('berth', berthd!.env, refs[berthRun++]!),
    },
    references: [
      {
        name: 'docker pull',
        run: () => dockerPull('docker', dockerd.env, refs[dockerRun++]!),
      },
    ],
    runs,
    warmup,
    unit: 's',
    target: { reference: 'docker pull', ratio: 0.6 },
  });
  if (result.targetMet === false) process.exitCode = 1;
} finally {
  for (const c of cleanups) await c();
  await dockerd.stop();
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
}
