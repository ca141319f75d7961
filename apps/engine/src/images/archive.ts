/**
 * Images that do not come from a registry: `docker load`, `docker import`, `docker commit`, and `docker save`,
 * over @berth/distribution's archive code with runtimed's content as the store; plus unpacking layers into
 * snapshots through runtimed's Diff service (containerd's unpack: prepare, apply, commit per layer), and
 * `login`/`search` through the registry client.
 */
import type { Readable } from 'node:stream';
import type { Descriptor as RtDescriptor, RuntimedClient } from '@berth/containerd-api';
import { ConflictError, InvalidArgumentError, isAlreadyExists, isNotFound, wrap } from '@berth/errdefs';
import {
  MediaTypeImageConfig, MediaTypeImageLayerGzip, MediaTypeImageManifest, digestOf, formatReference, withDefaultTag,
  type ImageConfig, type ImageManifest,
} from '@berth/oci';
import type { DaemonConfig } from '../config.ts';
import type { Container } from '../containers/container.ts';
import type { ImageService } from './service.ts';
import { RemoteContentStore } from './remote-content.ts';
import { chainIdOf, familiar, parseRef, type ImageDetails } from './store.ts';

const UNCOMPRESSED = 'containerd.io/uncompressed';

/** Unpacks an image's layers into snapshots named by chainID (skipping those that exist). */
export async function unpackImage(rt: RuntimedClient, d: ImageDetails, snapshotter: string): Promise<void> {
  let parent = '';
  for (let i = 0; i < d.diffIds.length; i++) {
    const chain = chainIdOf(d.diffIds.slice(0, i + 1));
    try {
      await rt.snapshots.stat(chain, snapshotter);
      parent = chain;
      continue;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const layer = d.manifest.layers[i];
    if (!layer) throw new InvalidArgumentError(`image ${d.id}: fewer layers than diffIDs`);
    const key = `extract-${Date.now()}-${Math.random().toString(36).slice(2)} ${chain}`;
    const mounts = await rt.snapshots.prepare(key, parent, { snapshotter, labels: { 'containerd.io/gc.root': new Date().toISOString() } });
    try {
      const desc = { ...layer, size: Number(layer.size), annotations: layer.annotations ?? {} } as RtDescriptor;
      const applied = await rt.diff.apply(desc, mounts);
      if (applied.digest !== d.diffIds[i]) {
        throw new InvalidArgumentError(`unpack ${layer.digest}: its content has diffID ${applied.digest}, the config says ${d.diffIds[i]}`);
      }
      await rt.snapshots.commit(chain, key, { snapshotter });
    } catch (err) {
      await rt.snapshots.remove(key, snapshotter).catch(() => undefined);
      if (!isAlreadyExists(err)) throw err;
    }
    parent = chain;
  }
}

export class ImageArchives {
  private readonly rt: RuntimedClient;
  private readonly images: ImageService;
  private readonly config: DaemonConfig;
  private readonly snapshotter: string;

  constructor(deps: { rt: RuntimedClient; images: ImageService; config: DaemonConfig; snapshotter: string }) {
    this.rt = deps.rt;
    this.images = deps.images;
    this.config = deps.config;
    this.snapshotter = deps.snapshotter;
  }

  /**
   * Runs `fn` under a runtimed lease, so what it writes (blobs, snapshots) survives garbage collection until an
   * image record references it; the lease is dropped at the end (and expires by itself after a crash).
   */
  private async leased<T>(fn: (rt: RuntimedClient, content: RemoteContentStore) => Promise<T>): Promise<T> {
    const lease = await this.rt.leases.create('', { 'containerd.io/gc.expire': new Date(Date.now() + 3600_000).toISOString() });
    const rt = this.rt.withLease(lease.id);
    try {
      return await fn(rt, new RemoteContentStore(rt));
    } finally {
      await this.rt.leases.delete(lease.id).catch(() => undefined);
    }
  }

  /** `GET /images/get?names=…` / `GET /images/{name}/get`. */
  async save(names: string[]): Promise<Readable> {
    const { saveImages } = await import('@berth/distribution');
    if (names.length === 0) throw new InvalidArgumentError('no images specified');
    const list = [];
    for (const n of names) {
      const d = await this.images.store.resolve(n);
      const byId = d.name === undefined || /^(sha256:)?[a-f0-9]+$/.test(n);
      list.push({ target: d.target as never, ...(byId ? {} : { names: [d.name!] }) });
    }
    return saveImages(list, { contentStore: new RemoteContentStore(this.rt), platform: 'linux/amd64' });
  }

  /** `POST /images/load`: loads, unpacks, names; returns Docker's "Loaded image" lines. */
  async load(input: Readable): Promise<string[]> {
    const { loadImages } = await import('@berth/distribution');
    return this.leased(async (rt, content) => {
      const loaded = await loadImages(input, { contentStore: content });
      const lines: string[] = [];
      for (const img of loaded) {
        const target = { mediaType: img.target.mediaType, digest: img.target.digest, size: Number(img.target.size), annotations: {} };
        const d = await this.images.store.detailsOf(target);
        await unpackImage(rt, d, this.snapshotter);
        if (img.names.length === 0) {
          await this.images.keepDangling(d);
          lines.push(`Loaded image ID: ${d.id}`);
        }
        for (const n of img.names) {
          await this.images.setRecord(n, d);
          lines.push(`Loaded image: ${familiar(n)}`);
        }
      }
      await this.images.refreshIndex();
      return lines;
    });
  }

  /** `POST /images/create?fromSrc=-`: a rootfs tarball as a one-layer image. */
  async importTar(input: Readable, opts: { repo?: string; tag?: string; changes: string[]; message?: string }): Promise<string> {
    const { importRootfs } = await import('@berth/distribution');
    let name: string | undefined;
    if (opts.repo) name = formatReference(withDefaultTag(parseRef(opts.tag ? `${opts.repo}:${opts.tag}` : opts.repo)));
    return this.leased(async (rt, content) => {
      const img = await importRootfs(input, {
        contentStore: content, changes: opts.changes, ...(opts.message ? { message: opts.message } : {}),
      });
      const target = { mediaType: img.target.mediaType, digest: img.target.digest, size: Number(img.target.size), annotations: {} };
      const d = await this.images.store.detailsOf(target);
      await unpackImage(rt, d, this.snapshotter);
      if (name) await this.images.setRecord(name, d);
      else await this.images.keepDangling(d);
      await this.images.refreshIndex();
      return d.id;
    });
  }

  /** `POST /commit`: the container's changes as a new layer on its image, with its config (and `changes`). */
  async commit(c: Container, opts: {
    repo?: string; tag?: string; comment?: string; author?: string; pause: boolean; changes: string[]; config?: Record<string, unknown>;
  }): Promise<string> {
    return this.leased((rt) => this.commitWith(rt, c, opts));
  }

  private async commitWith(rt: RuntimedClient, c: Container, opts: {
    repo?: string; tag?: string; comment?: string; author?: string; pause: boolean; changes: string[]; config?: Record<string, unknown>;
  }): Promise<string> {
    const { applyChanges } = await import('@berth/distribution');
    let name: string | undefined;
    if (opts.repo) name = formatReference(withDefaultTag(parseRef(opts.tag ? `${opts.repo}:${opts.tag}` : opts.repo)));
    else if (opts.tag) throw new InvalidArgumentError('tag without repository');
    const base = await this.images.store.resolve(c.rec.Image);
    const paused = opts.pause && c.hasTask && !c.paused;
    if (paused) await rt.tasks.pause(c.id);
    let layer: RtDescriptor;
    let diffId: string;
    try {
      const upper = await rt.snapshots.mounts(c.rec.SnapshotKey, c.rec.Snapshotter);
      const viewKey = `commit-view-${c.id}-${Date.now()}`;
      const lower = base.chainId ? await rt.snapshots.view(viewKey, base.chainId, { snapshotter: c.rec.Snapshotter }) : [];
      try {
        layer = await rt.diff.diff(lower, upper, { mediaType: MediaTypeImageLayerGzip, ref: `commit-${c.id}-${Date.now()}` });
      } finally {
        if (base.chainId) await rt.snapshots.remove(viewKey, c.rec.Snapshotter).catch(() => undefined);
      }
      diffId = (await rt.content.info(layer.digest)).labels[UNCOMPRESSED] ?? '';
      if (!diffId) throw new ConflictError(`commit ${c.id}: the layer's uncompressed digest is unknown`);
    } catch (err) {
      throw wrap(err, `commit container ${c.id}`);
    } finally {
      if (paused) await rt.tasks.resume(c.id).catch(() => undefined);
    }
    const now = new Date().toISOString();
    const rc = c.rec.Config;
    const execConfig = applyChanges({
      ...(rc.User ? { User: rc.User } : {}),
      ...(rc.ExposedPorts ? { ExposedPorts: rc.ExposedPorts } : {}),
      Env: rc.Env ?? [],
      Cmd: rc.Cmd ?? null,
      ...(rc.Healthcheck ? { Healthcheck: rc.Healthcheck } : {}),
      ...(rc.Volumes ? { Volumes: rc.Volumes } : {}),
      WorkingDir: rc.WorkingDir ?? '',
      Entrypoint: rc.Entrypoint ?? null,
      OnBuild: rc.OnBuild ?? null,
      Labels: rc.Labels ?? {},
      ...(rc.StopSignal ? { StopSignal: rc.StopSignal } : {}),
      ...Object.fromEntries(Object.entries(opts.config ?? {}).filter(([, v]) => v !== null && v !== undefined && v !== ''
        && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0))),
    } as never, opts.changes);
    const config: ImageConfig = {
      ...base.config,
      created: now,
      ...(opts.author ? { author: opts.author } : {}),
      config: execConfig,
      rootfs: { type: 'layers', diff_ids: [...base.diffIds, diffId] as ImageConfig['rootfs']['diff_ids'] },
      history: [...(base.config.history ?? []), {
        created: now, created_by: [c.rec.Path, ...c.rec.Args].join(' '), ...(opts.author ? { author: opts.author } : {}),
        ...(opts.comment ? { comment: opts.comment } : {}),
      }],
    };
    delete (config as Record<string, unknown>).container_config;
    delete (config as Record<string, unknown>).container;
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDigest: string = digestOf(configBytes);
    await this.writeBlob(rt, `commit-config-${configDigest}`, configBytes, configDigest, {});
    const layers = [...base.manifest.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: Number(l.size) })),
      { mediaType: layer.mediaType, digest: layer.digest, size: Number(layer.size) }];
    const manifest: ImageManifest = {
      schemaVersion: 2, mediaType: MediaTypeImageManifest,
      config: { mediaType: MediaTypeImageConfig, digest: configDigest as ImageManifest['config']['digest'], size: configBytes.length },
      layers: layers as ImageManifest['layers'],
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDigest: string = digestOf(manifestBytes);
    const labels: Record<string, string> = { 'containerd.io/gc.ref.content.config': configDigest };
    layers.forEach((l, i) => (labels[`containerd.io/gc.ref.content.l.${i}`] = l.digest));
    await this.writeBlob(rt, `commit-manifest-${manifestDigest}`, manifestBytes, manifestDigest, labels);
    const target = { mediaType: MediaTypeImageManifest, digest: manifestDigest, size: manifestBytes.length, annotations: {} };
    const d = await this.images.store.detailsOf(target);
    await unpackImage(rt, d, this.snapshotter);
    if (name) await this.images.setRecord(name, d);
    else await this.images.keepDangling(d);
    await this.images.refreshIndex();
    return d.id;
  }

  private async writeBlob(rt: RuntimedClient, ref: string, data: Buffer, digest: string, labels: Record<string, string>): Promise<void> {
    try {
      await rt.content.write(ref, data, { expected: digest, total: data.length, labels });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      if (Object.keys(labels).length > 0) await rt.content.update({ digest, labels }, Object.keys(labels).map((k) => `labels.${k}`));
    }
  }

  /** `POST /auth`. */
  async login(body: Record<string, string>): Promise<{ Status: string; IdentityToken?: string }> {
    const { RegistryClient } = await import('@berth/distribution');
    const client = new RegistryClient({ mirrors: this.config.registryMirrors, insecureRegistries: this.config.insecureRegistries });
    const res = await client.checkLogin(body.serveraddress ?? '', {
      ...(body.username ? { username: body.username } : {}), ...(body.password ? { password: body.password } : {}),
      ...(body.auth ? { auth: body.auth } : {}), ...(body.identitytoken ? { identitytoken: body.identitytoken } : {}),
      ...(body.serveraddress ? { serveraddress: body.serveraddress } : {}),
    });
    return { Status: res.status, ...(res.identityToken ? { IdentityToken: res.identityToken } : {}) };
  }

  /** `GET /distribution/{name}/json`: what the registry holds for a reference. */
  async distributionInspect(name: string, auth: Record<string, string> | undefined): Promise<unknown> {
    const { RegistryClient } = await import('@berth/distribution');
    const client = new RegistryClient({ mirrors: this.config.registryMirrors, insecureRegistries: this.config.insecureRegistries });
    const r = await client.resolve(formatReference(withDefaultTag(parseRef(name))), { ...(auth ? { auth } : {}) });
    const platforms = r.index
      ? r.index.manifests.filter((m) => m.platform).map((m) => ({
          architecture: m.platform!.architecture, os: m.platform!.os, ...(m.platform!.variant ? { variant: m.platform!.variant } : {}),
        }))
      : [{ architecture: 'amd64', os: 'linux' }];
    return { Descriptor: { mediaType: r.target.mediaType, digest: r.target.digest, size: r.target.size }, Platforms: platforms };
  }

  /** `GET /images/search`. */
  async search(term: string, limit: number | undefined, auth: Record<string, string> | undefined): Promise<unknown[]> {
    const { RegistryClient } = await import('@berth/distribution');
    const client = new RegistryClient({ mirrors: this.config.registryMirrors, insecureRegistries: this.config.insecureRegistries });
    return client.search(term, { ...(limit ? { limit } : {}), ...(auth ? { auth } : {}) });
  }
}
