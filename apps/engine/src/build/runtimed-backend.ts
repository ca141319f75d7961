/**
 * The build engine's backend over berth-runtimed, one per build: everything the build creates (work snapshots,
 * layer blobs, configs, RUN containers) is made under the build's own lease, so nothing half-made outlives it;
 * what the step cache keeps is moved to the cache lease, and the final image gets its records.
 *
 * - Work layers are active snapshots (`build-<build>-<n>`) on a chain; `commit` asks runtimed's Diff service
 *   for the layer (overlay: read straight from the upper directory) and commits the snapshot itself as the new
 *   chainID — the tree is never copied or re-applied.
 * - RUN is a real container: Containers/Create with the engine's spec generator, Tasks/Create with output FIFOs,
 *   Tasks/Start, Wait, then Tasks/Delete and Containers/Delete whatever happened.
 */
import { randomBytes, createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import {
  SPEC_TYPE_URL, packJson, type Descriptor as RtDescriptor, type Mount as RtMount, type RuntimedClient,
} from '@berth/containerd-api';
import type {
  BuildBackend, CachedStep, GetImageOptions, ImageSource, LayerDescriptor, MountedView, ProgressMessage, RunRequest, WorkLayer,
} from '@berth/builder';
import type { HostConfig } from '@berth/docker-api';
import { InvalidArgumentError, NotFoundError, isAlreadyExists, isNotFound } from '@berth/errdefs';
import {
  MediaTypeImageConfig, MediaTypeImageLayerGzip, MediaTypeImageManifest, digestOf, type ImageManifest, type Mount,
} from '@berth/oci';
import type { DaemonConfig } from '../config.ts';
import { layerDirs, mountSnapshot, readLayeredFile, unmount } from '../containers/rootfs.ts';
import { makeFifos, OutputPipe } from '../containers/stdio.ts';
import { containerEnv } from '../containers/task.ts';
import { unpackImage } from '../images/archive.ts';
import type { ImageService } from '../images/service.ts';
import { chainIdOf, DANGLING_PREFIX } from '../images/store.ts';
import { buildSpec } from '../spec/generate.ts';
import { resolveUser } from '../spec/user.ts';
import { planStubs, removeStubs } from './layers.ts';
import type { StepCache } from './step-cache.ts';

const UNCOMPRESSED = 'containerd.io/uncompressed';
/** sha256 of an empty tar (two zero blocks): a step that changed nothing. */
const EMPTY_LAYER = `sha256:${createHash('sha256').update(Buffer.alloc(1024)).digest('hex')}`;
export const BUILD_LABEL = 'io.berth.build';

export interface BuildDeps {
  rt: RuntimedClient;
  images: ImageService;
  config: DaemonConfig;
  log: FastifyBaseLogger;
  snapshotter: string;
  cgroupV2: boolean;
  cache: StepCache;
  /** `X-Registry-Config` of the request (registry → auth), for pulls. */
  registryConfig: Record<string, Record<string, string>>;
}

/** RUN resources from the request (`--memory`, `--cpu-shares`, `--cgroup-parent`, `--add-host`, …). */
export interface RunResources {
  hostConfig: HostConfig;
  extraHosts: string[];
}

/** The chainID of `parent` plus one layer (OCI image spec: sha256 of "parent diffID"). */
function chainOf(parent: string, diffId: string): string {
  return parent === '' ? diffId : `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}`;
}

function isOverlay(mounts: RtMount[]): boolean {
  return mounts[0]?.type === 'overlay';
}

function upperDir(mounts: RtMount[]): string {
  const m = mounts[0];
  if (!m) throw new InvalidArgumentError('snapshot has no mounts');
  if (m.type === 'overlay') {
    const u = m.options.find((o) => o.startsWith('upperdir='));
    if (!u) throw new InvalidArgumentError('overlay mount without upperdir');
    return u.slice('upperdir='.length);
  }
  return m.source;
}

/** The host's resolv.conf for RUN steps (systemd-resolved's stub points at 127.0.0.53, useless in a container). */
function resolvConf(): string {
  for (const p of ['/run/systemd/resolve/resolv.conf', '/etc/resolv.conf']) {
    if (existsSync(p)) return p;
  }
  return '';
}

export class RuntimedBuildBackend implements BuildBackend {
  readonly id: string;
  private readonly deps: BuildDeps;
  private readonly rt: RuntimedClient;
  private readonly lease: string;
  private readonly runDir: string;
  private readonly tmpDir: string;
  private readonly resources: RunResources;
  private counter = 0;
  private leaseCreated: Promise<void> | undefined;
  private readonly live = new Set<RtWorkLayer>();
  private readonly views = new Set<MountedView>();

  private constructor(deps: BuildDeps, id: string, resources: RunResources) {
    this.deps = deps;
    this.id = id;
    this.lease = `build-${id}`;
    this.rt = deps.rt.withLease(this.lease);
    this.runDir = path.join(deps.config.execRoot, 'builder', id);
    this.tmpDir = path.join(deps.config.dataRoot, 'builder', 'tmp', id);
    this.resources = resources;
  }

  static create(deps: BuildDeps, resources: RunResources): RuntimedBuildBackend {
    const id = randomBytes(8).toString('hex');
    const b = new RuntimedBuildBackend(deps, id, resources);
    mkdirSync(b.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(b.tmpDir, { recursive: true, mode: 0o700 });
    return b;
  }

  /**
   * The build's lease, created before the first thing that needs it (a fully cached build needs none). A day's
   * expiry: a berthd killed mid-build leaves nothing GC cannot reclaim.
   */
  private ensureLease(): Promise<void> {
    this.leaseCreated ??= this.deps.rt.leases.create(this.lease, {
      [BUILD_LABEL]: this.id, 'containerd.io/gc.expire': new Date(Date.now() + 86_400_000).toISOString(),
    }).then(() => undefined);
    return this.leaseCreated;
  }

  /** Where the context is unpacked. */
  contextDir(): string {
    return path.join(this.tmpDir, 'context');
  }

  scratchDir(): string {
    const d = path.join(this.tmpDir, 'scratch');
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  private nextKey(what: string): string {
    return `build-${this.id}-${what}-${++this.counter}`;
  }

  // ---- images -----------------------------------------------------------------------------------------------

  private authFor(ref: string): Record<string, string> | undefined {
    const host = /^([^/]+\.[^/]+|[^/]+:\d+|localhost)\//.exec(ref)?.[1] ?? 'docker.io';
    const keys = host === 'docker.io' ? ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io'] : [host, `https://${host}`, `http://${host}`];
    for (const k of keys) if (this.deps.registryConfig[k]) return this.deps.registryConfig[k];
    return undefined;
  }

  async getImage(ref: string, opts: GetImageOptions): Promise<ImageSource> {
    const store = this.deps.images.store;
    let d: Awaited<ReturnType<typeof store.resolve>> | undefined;
    if (!opts.pull) {
      try {
        d = await store.resolve(ref);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (!d) {
      if (/^(sha256:)?[a-f0-9]{12,64}$/.test(ref)) throw new NotFoundError(`No such image: ${ref}`);
      let pullError: string | undefined;
      const auth = this.authFor(ref);
      await this.deps.images.pull(ref, undefined, { ...(opts.platform ? { platform: opts.platform } : {}), ...(auth ? { auth } : {}) }, {
        started: true,
        write: (m) => {
          if (m.error || m.errorDetail) pullError = m.errorDetail?.message ?? m.error;
          else opts.progress(m as ProgressMessage);
        },
      });
      if (pullError) throw new NotFoundError(pullError);
      d = await store.resolve(ref);
    }
    const img = d;
    if (img.chainId && !(await this.deps.cache.chainExists(img.chainId))) {
      await unpackImage(this.deps.rt, img, this.deps.snapshotter);
      this.deps.cache.sawChain(img.chainId);
    }
    const layers: LayerDescriptor[] = img.manifest.layers.map((l, i) => ({
      mediaType: l.mediaType, digest: l.digest, size: Number(l.size), diffId: img.diffIds[i] ?? '',
    }));
    return { id: img.id, config: img.config, layers, chainId: img.chainId };
  }

  // ---- snapshots --------------------------------------------------------------------------------------------

  async prepare(parent: string): Promise<WorkLayer> {
    await this.ensureLease();
    const key = this.nextKey('layer');
    const mounts = await this.rt.snapshots.prepare(key, parent, { snapshotter: this.deps.snapshotter, labels: { [BUILD_LABEL]: this.id } });
    const layer = new RtWorkLayer(this, key, parent, mounts);
    this.live.add(layer);
    return layer;
  }

  forget(layer: RtWorkLayer): void {
    this.live.delete(layer);
  }

  async removeSnapshot(key: string): Promise<void> {
    await this.rt.snapshots.remove(key, this.deps.snapshotter).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  /** Where a work layer is mounted for file operations. */
  mountDir(key: string): string {
    return path.join(this.runDir, 'mnt', key);
  }

  async view(chainId: string): Promise<MountedView> {
    if (chainId === '') {
      const dir = path.join(this.runDir, `empty-${++this.counter}`);
      mkdirSync(dir, { recursive: true });
      return { dir, release: async () => rmSync(dir, { recursive: true, force: true }) };
    }
    await this.ensureLease();
    const key = this.nextKey('view');
    // Taken now: views of concurrent stages must not share a mount point.
    const dir = path.join(this.runDir, `view-${this.counter}`);
    const mounts = await this.rt.snapshots.view(key, chainId, { snapshotter: this.deps.snapshotter, labels: { [BUILD_LABEL]: this.id } });
    const m = mounts[0];
    const sn = this.deps.snapshotter;
    const removeSnapshot = () => this.rt.snapshots.remove(key, sn).catch(() => undefined);
    // A view of one layer is its directory: no mount needed.
    if (m && (m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind'))) {
      const v: MountedView = {
        dir: m.source,
        release: async () => {
          this.views.delete(v);
          await removeSnapshot();
        },
      };
      this.views.add(v);
      return v;
    }
    try {
      await mountSnapshot(mounts, dir, true);
    } catch (err) {
      await removeSnapshot();
      throw err;
    }
    const v: MountedView = {
      dir,
      release: async () => {
        this.views.delete(v);
        await unmount(dir);
        await removeSnapshot();
      },
    };
    this.views.add(v);
    return v;
  }

  async cacheMount(id: string): Promise<string> {
    const dir = path.join(this.deps.config.dataRoot, 'builder', 'cache-mounts', createHash('sha256').update(id).digest('hex').slice(0, 32));
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    return dir;
  }

  // ---- RUN --------------------------------------------------------------------------------------------------

  /** Runs a RUN step's container on `layer`; the exit code. */
  async runContainer(layer: RtWorkLayer, req: RunRequest, signal: AbortSignal): Promise<number> {
    const { rt } = this;
    const id = req.id;
    const dir = path.join(this.runDir, id.slice(0, 12));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const dirs = layerDirs(layer.mounts);
    const hostname = id.slice(0, 12);
    const user = resolveUser(req.user, [], { passwd: readLayeredFile(dirs, 'etc/passwd'), group: readLayeredFile(dirs, 'etc/group') });
    const env = containerEnv({ Env: req.env }, hostname, user.home);
    const files = { hosts: path.join(dir, 'hosts'), resolv: path.join(dir, 'resolv.conf'), hostname: path.join(dir, 'hostname') };
    const extraHosts = this.resources.extraHosts.map((h) => {
      const i = h.indexOf(':');
      return i < 0 ? '' : `${h.slice(i + 1)}\t${h.slice(0, i)}\n`;
    }).join('');
    writeFileSync(files.hosts, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${extraHosts}`);
    writeFileSync(files.hostname, `${hostname}\n`);
    const rc = resolvConf();
    if (rc) copyFileSync(rc, files.resolv);
    else writeFileSync(files.resolv, '');
    const network = req.network === 'none' ? 'new' as const : 'host' as const;
    const userMounts: Mount[] = req.mounts.map((m) => m.tmpfs
      ? { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.tmpfs.size ? [`size=${m.tmpfs.size}`] : [])] }
      : { destination: m.target, type: 'bind', source: m.source, options: ['rbind', m.readOnly ? 'ro' : 'rw'] });
    const hc: HostConfig = { ...this.resources.hostConfig, NetworkMode: req.network === 'none' ? 'none' : 'host' };
    const spec = buildSpec({
      id,
      config: { Hostname: hostname, User: req.user, WorkingDir: req.workdir, Tty: false },
      hostConfig: hc,
      args: req.args,
      env,
      user,
      network: { netns: network, hostname, domainname: '', hostsPath: files.hosts, resolvConfPath: files.resolv, hostnamePath: files.hostname },
      mounts: userMounts,
      cgroupsPath: `${hc.CgroupParent || this.deps.config.cgroupParent}/${id}`.replace(/\/+/g, '/'),
      daemon: {
        noNewPrivileges: this.deps.config.noNewPrivileges, defaultUlimits: this.deps.config.defaultUlimits, cgroupV2: this.deps.cgroupV2,
      },
    });
    // Mount points the runtime will create; those under /dev land in its tmpfs, not in the layer.
    const stubs = planStubs(dirs, ['proc', 'sys', 'dev', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf', ...req.mounts.filter((m) => !m.keepMountPoint).map((m) => m.target)]
      .map((t) => t.replace(/^\/+/, '')).filter((t) => t !== '' && !t.startsWith('dev/')));

    const out = path.join(dir, 'stdout');
    const err = path.join(dir, 'stderr');
    await makeFifos(dir, [out, err]);
    const pipes = [new OutputPipe(out), new OutputPipe(err)] as const;
    const drained = pipes.map((p, i) => new Promise<void>((resolve) => {
      p.socket.on('data', (c: Buffer) => (i === 0 ? req.stdout(c) : req.stderr(c)));
      p.socket.on('end', resolve);
      p.socket.on('close', resolve);
    }));
    let containerCreated = false;
    let taskCreated = false;
    let exitedOk = false;
    const onAbort = () => {
      if (taskCreated) void rt.tasks.kill(id, 9, { all: true }).catch(() => undefined);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const t0 = performance.now();
    const lap = (step: string) => this.deps.log.debug({ containerId: id, step, ms: Math.round(performance.now() - t0) }, 'build: RUN step');
    try {
      await rt.containers.create({
        id, image: '', labels: { [BUILD_LABEL]: this.id }, runtime: { name: 'io.containerd.runc.v2', options: null },
        spec: packJson(SPEC_TYPE_URL, spec), snapshotter: this.deps.snapshotter, snapshotKey: layer.key,
      });
      containerCreated = true;
      lap('containers.create');
      await rt.tasks.create({ containerId: id, rootfs: layer.mounts, stdout: out, stderr: err, terminal: false });
      taskCreated = true;
      lap('tasks.create');
      for (const p of pipes) p.release();
      const exited = rt.tasks.wait(id);
      exited.catch(() => undefined);
      signal.throwIfAborted();
      await rt.tasks.start(id);
      lap('tasks.start');
      const status = await exited;
      exitedOk = true;
      lap('exited');
      await Promise.race([Promise.all(drained), new Promise((r) => setTimeout(r, 2000))]);
      signal.throwIfAborted();
      return status.exitStatus;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (taskCreated) {
        if (!exitedOk) await rt.tasks.kill(id, 9, { all: true }).catch(() => undefined);
        await rt.tasks.delete(id).catch((e: unknown) => this.deps.log.warn({ err: e, containerId: id }, 'build: deleting the RUN task failed'));
      }
      if (containerCreated) await rt.containers.delete(id).catch((e: unknown) => this.deps.log.warn({ err: e, containerId: id }, 'build: deleting the RUN container failed'));
      lap('deleted');
      for (const p of pipes) p.destroy();
      rmSync(dir, { recursive: true, force: true });
      removeStubs(upperDir(layer.mounts), stubs);
    }
  }

  // ---- commit -----------------------------------------------------------------------------------------------

  async commitLayer(layer: RtWorkLayer): Promise<{ layer: LayerDescriptor; chainId: string } | undefined> {
    const t0 = performance.now();
    try {
      return await this.commitLayerTimed(layer);
    } finally {
      this.deps.log.debug({ key: layer.key, ms: Math.round(performance.now() - t0) }, 'build: commit');
    }
  }

  private async commitLayerTimed(layer: RtWorkLayer): Promise<{ layer: LayerDescriptor; chainId: string } | undefined> {
    const sn = this.deps.snapshotter;
    const upper = upperDir(layer.mounts);
    if (isOverlay(layer.mounts) || layer.parent === '') {
      if (readdirSync(upper).length === 0) {
        await this.rt.snapshots.remove(layer.key, sn);
        return undefined;
      }
    }
    let lower: RtMount[] = [];
    let lowerKey: string | undefined;
    if (!isOverlay(layer.mounts) && layer.parent !== '') {
      lowerKey = this.nextKey('lower');
      lower = await this.rt.snapshots.view(lowerKey, layer.parent, { snapshotter: sn });
    }
    let desc: RtDescriptor;
    try {
      desc = await this.rt.diff.diff(lower, layer.mounts, { mediaType: MediaTypeImageLayerGzip, ref: `${layer.key}-diff` });
    } catch (err) {
      // The same layer exists already (a step whose output is byte-for-byte what an earlier one made, e.g.
      // `COPY f /` again): runtimed's Diff refuses to commit it twice; the existing blob is the layer.
      const existing = isAlreadyExists(err) ? /sha256:[0-9a-f]{64}/.exec((err as Error).message)?.[0] : undefined;
      if (!existing) throw err;
      const info = await this.rt.content.info(existing);
      await this.rt.leases.addResource(this.lease, { id: existing, type: 'content' });
      desc = { mediaType: MediaTypeImageLayerGzip, digest: existing, size: info.size, annotations: {} };
    } finally {
      if (lowerKey) await this.rt.snapshots.remove(lowerKey, sn).catch(() => undefined);
    }
    const diffId = (await this.rt.content.info(desc.digest)).labels[UNCOMPRESSED] ?? '';
    if (!diffId) throw new InvalidArgumentError(`build: layer ${desc.digest} has no uncompressed digest`);
    if (diffId === EMPTY_LAYER) {
      await this.rt.snapshots.remove(layer.key, sn);
      return undefined;
    }
    const chainId = chainOf(layer.parent, diffId);
    this.deps.cache.sawChain(chainId);
    try {
      await this.rt.snapshots.commit(chainId, layer.key, { snapshotter: sn, labels: { 'containerd.io/snapshot.ref': chainId } });
    } catch (err) {
      // The same content was committed meanwhile (another build): that snapshot is as good as ours.
      if (!isAlreadyExists(err)) throw err;
      await this.rt.snapshots.remove(layer.key, sn).catch(() => undefined);
    }
    return { layer: { mediaType: desc.mediaType, digest: desc.digest, size: Number(desc.size), diffId }, chainId };
  }

  // ---- images out -------------------------------------------------------------------------------------------

  private async writeBlob(ref: string, data: Buffer, digest: string, labels: Record<string, string>): Promise<void> {
    await this.ensureLease();
    try {
      await this.rt.content.write(ref, data, { expected: digest, total: data.length, labels });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      if (Object.keys(labels).length > 0) await this.rt.content.update({ digest, labels }, Object.keys(labels).map((k) => `labels.${k}`));
    }
  }

  async writeImage(config: { bytes: Buffer; id: string }, layers: LayerDescriptor[], names: string[]): Promise<void> {
    const chainId = layers.length === 0 ? '' : chainIdOf(layers.map((l) => l.diffId));
    const configLabels: Record<string, string> = chainId ? { [`containerd.io/gc.ref.snapshot.${this.deps.snapshotter}`]: chainId } : {};
    const manifest: ImageManifest = {
      schemaVersion: 2, mediaType: MediaTypeImageManifest,
      config: { mediaType: MediaTypeImageConfig, digest: config.id as ImageManifest['config']['digest'], size: config.bytes.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })) as ImageManifest['layers'],
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest: string = digestOf(bytes);
    // A rebuild of an image that has these names already (a fully cached build) changes nothing.
    if (await this.alreadyNamed(digest, names)) return;
    await this.writeBlob(`build-config-${config.id}`, config.bytes, config.id, configLabels);
    const labels: Record<string, string> = { 'containerd.io/gc.ref.content.config': config.id };
    layers.forEach((l, i) => (labels[`containerd.io/gc.ref.content.l.${i}`] = l.digest));
    await this.writeBlob(`build-manifest-${digest}`, bytes, digest, labels);
    const target = { mediaType: MediaTypeImageManifest, digest, size: bytes.length, annotations: {} };
    const d = await this.deps.images.store.detailsOf(target);
    await this.name(d, names);
  }

  private async alreadyNamed(digest: string, names: string[]): Promise<boolean> {
    const want = names.length > 0 ? names : [`${DANGLING_PREFIX}${digest}`];
    for (const n of want) {
      const rec = await this.deps.images.store.record(n);
      if (rec?.target.digest !== digest) return false;
    }
    return true;
  }

  async tagImage(id: string, names: string[]): Promise<void> {
    await this.name(await this.deps.images.store.resolve(id), names);
  }

  private async name(d: Awaited<ReturnType<ImageService['store']['detailsOf']>>, names: string[]): Promise<void> {
    if (names.length === 0) {
      await this.deps.images.keepDangling(d);
      await this.deps.images.refreshIndex();
      return;
    }
    for (const n of names) await this.deps.images.setRecord(n, d);
  }

  // ---- cache ------------------------------------------------------------------------------------------------

  cacheGet(key: string): Promise<CachedStep | undefined> {
    return this.deps.cache.get(key, (s) => {
      const ids = s.config.rootfs?.diff_ids ?? [];
      return ids.length === 0 ? '' : chainIdOf(ids);
    });
  }

  cachePut(key: string, step: CachedStep, chainIds: string[]): Promise<void> {
    return this.deps.cache.put(key, step, chainIds);
  }

  // ---- end --------------------------------------------------------------------------------------------------

  /** Removes everything the build still holds: work layers, views, its lease, its directories. */
  async close(): Promise<void> {
    for (const l of [...this.live]) await l.remove().catch(() => undefined);
    for (const v of [...this.views]) await v.release().catch(() => undefined);
    rmSync(this.runDir, { recursive: true, force: true });
    rmSync(this.tmpDir, { recursive: true, force: true });
    if (!this.leaseCreated) return;
    await this.leaseCreated.catch(() => undefined);
    await this.deps.rt.leases.delete(this.lease).catch((err: unknown) => this.deps.log.warn({ err, lease: this.lease }, 'build: deleting the lease failed'));
    // What only the lease held (failed steps, empty layers' blobs) can go now.
    this.deps.images.scheduleGc();
  }
}

class RtWorkLayer implements WorkLayer {
  private readonly backend: RuntimedBuildBackend;
  readonly key: string;
  readonly parent: string;
  readonly mounts: RtMount[];
  private mountedAt: string | undefined;
  private gone = false;

  constructor(backend: RuntimedBuildBackend, key: string, parent: string, mounts: RtMount[]) {
    this.backend = backend;
    this.key = key;
    this.parent = parent;
    this.mounts = mounts;
  }

  async mount(): Promise<string> {
    if (this.mountedAt) return this.mountedAt;
    const dir = this.backend.mountDir(this.key);
    await mountSnapshot(this.mounts, dir);
    this.mountedAt = dir;
    return dir;
  }

  async unmount(): Promise<void> {
    if (!this.mountedAt) return;
    const dir = this.mountedAt;
    this.mountedAt = undefined;
    await unmount(dir);
  }

  run(req: RunRequest, signal: AbortSignal): Promise<number> {
    return this.backend.runContainer(this, req, signal);
  }

  async commit(): Promise<{ layer: LayerDescriptor; chainId: string } | undefined> {
    await this.unmount();
    const r = await this.backend.commitLayer(this);
    this.gone = true;
    this.backend.forget(this);
    return r;
  }

  async remove(): Promise<void> {
    await this.unmount();
    if (this.gone) return;
    this.gone = true;
    this.backend.forget(this);
    await this.backend.removeSnapshot(this.key);
  }
}
