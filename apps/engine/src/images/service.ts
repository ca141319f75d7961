/**
 * The image endpoints' logic: list, inspect, history, pull, push, tag, remove, prune, disk usage. Images live
 * in runtimed (records + content + snapshots); pulls and pushes are runtimed jobs whose progress is streamed as
 * Docker's JSON messages. Docker's conflict rules for `rmi` are applied here.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Progress, RuntimedClient, RegistryAuth } from '@berth/containerd-api';
import type { ImageDeleteResponseItem, ImageHistoryItem, ImageInspect, ImageSummary, ContainerConfig } from '@berth/docker-api';
import { ConflictError, InvalidArgumentError, NotFoundError, UnauthorizedError, isAlreadyExists, isNotFound } from '@berth/errdefs';
import { familiarName, familiarString, formatReference, isValidTag, parseNormalizedReference, withDefaultTag, type ImageConfig } from '@berth/oci';
import { matchLabels, type Filters } from '../api/query.ts';
import type { DaemonConfig } from '../config.ts';
import type { Container } from '../containers/container.ts';
import type { EventBus } from '../system/events.ts';
import { parseEventTime } from '../system/events.ts';
import { errorMessage, progressMessage, type ProgressSink } from './progress.ts';
import {
  DANGLING_PREFIX, ImageStore, createdSeconds, familiar, isDanglingName, notFoundName, parseRef, type ImageDetails, type ImageEntry,
} from './store.ts';

export interface ImageServiceDeps {
  rt: RuntimedClient;
  config: DaemonConfig;
  log: FastifyBaseLogger;
  events: EventBus;
  snapshotter: string;
  containers: () => Container[];
}

export const IMAGE_FILTERS = ['dangling', 'label', 'before', 'since', 'reference', 'until'] as const;

/** Docker's image `Config` (a ContainerConfig) from an image config. */
export function imageContainerConfig(c: ImageConfig): ContainerConfig {
  const ic = c.config ?? {};
  return {
    Hostname: '', Domainname: '', User: ic.User ?? '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
    ...(ic.ExposedPorts ? { ExposedPorts: ic.ExposedPorts } : {}),
    Tty: false, OpenStdin: false, StdinOnce: false, Env: ic.Env ?? null, Cmd: ic.Cmd ?? null,
    ...(ic.Healthcheck ? { Healthcheck: ic.Healthcheck } : {}),
    ...(ic.ArgsEscaped ? { ArgsEscaped: ic.ArgsEscaped } : {}),
    Image: '', Volumes: ic.Volumes ?? null, WorkingDir: ic.WorkingDir ?? '', Entrypoint: ic.Entrypoint ?? null,
    OnBuild: ic.OnBuild ?? null, Labels: ic.Labels ?? null,
    ...(ic.StopSignal ? { StopSignal: ic.StopSignal } : {}),
    ...(ic.Shell ? { Shell: ic.Shell } : {}),
  };
}

/** `X-Registry-Auth` JSON → runtimed's RegistryAuth. */
export function toRegistryAuth(a: Record<string, string> | undefined): RegistryAuth | null {
  if (!a) return null;
  let username = a.username ?? '';
  let password = a.password ?? '';
  if (!username && a.auth) {
    const dec = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i > 0) {
      username = dec.slice(0, i);
      password = dec.slice(i + 1);
    }
  }
  if (!username && !password && !a.identitytoken && !a.registrytoken) return null;
  return {
    username, password, identityToken: a.identitytoken ?? '', registryToken: a.registrytoken ?? '', serverAddress: a.serveraddress ?? '',
  };
}

export class ImageService {
  readonly store: ImageStore;
  private readonly deps: ImageServiceDeps;
  /** Record name → image id, kept current by the engine's own image operations (and refreshed on demand). */
  private index = new Map<string, string>();

  constructor(deps: ImageServiceDeps) {
    this.deps = deps;
    this.store = new ImageStore(deps.rt);
  }

  async refreshIndex(): Promise<ImageEntry[]> {
    const all = await this.store.list();
    const next = new Map<string, string>();
    for (const e of all) for (const n of e.names) next.set(n, e.id);
    this.index = next;
    return all;
  }

  /** The image id a record name points to now (from the index; undefined when unknown). */
  idOf(name: string): string | undefined {
    return this.index.get(name);
  }

  /** What `ancestor=` may name for a container's image: its id (full/short), what the user typed, and the image's names. */
  ancestorsOf(imageId: string, typed: string): string[] {
    const out = [imageId, imageId.slice(7), imageId.slice(7, 19), typed];
    for (const [name, id] of this.index) {
      if (id !== imageId) continue;
      const f = familiar(name);
      out.push(f, f.replace(/:latest$/, ''), name);
    }
    return out;
  }

  private containersUsing(id: string): Container[] {
    return this.deps.containers().filter((c) => c.rec.Image === id);
  }

  // ---- list / inspect / history ----------------------------------------------------------------------------

  async list(opts: { all?: boolean; filters: Filters; digests?: boolean; sharedSize?: boolean }): Promise<ImageSummary[]> {
    const f = opts.filters;
    const all = await this.refreshIndex();
    const danglingFilter = f.get('dangling')?.[0];
    if (danglingFilter !== undefined && !['true', 'false', '1', '0'].includes(danglingFilter)) {
      throw new InvalidArgumentError(`Invalid filter 'dangling=${danglingFilter}'`);
    }
    const byRef = async (v: string) => (await this.store.resolve(v)).id;
    const beforeId = f.get('before')?.[0] ? await byRef(f.get('before')![0]!) : undefined;
    const sinceId = f.get('since')?.[0] ? await byRef(f.get('since')![0]!) : undefined;
    const created = (id: string | undefined) => all.find((e) => e.id === id)?.config;
    const beforeT = beforeId ? createdSeconds(created(beforeId)!) : undefined;
    const sinceT = sinceId ? createdSeconds(created(sinceId)!) : undefined;
    const until = f.get('until')?.[0];
    const untilNs = until ? parseEventTime(until) : undefined;
    const out: ImageSummary[] = [];
    for (const e of all) {
      const tags = e.names.filter((n) => !isDanglingName(n));
      const dangling = tags.length === 0;
      if (danglingFilter !== undefined && (danglingFilter === 'true' || danglingFilter === '1') !== dangling) continue;
      if (!matchLabels(f.get('label'), e.config.config?.Labels ?? null)) continue;
      const t = createdSeconds(e.config);
      if (beforeT !== undefined && t >= beforeT) continue;
      if (sinceT !== undefined && t <= sinceT) continue;
      if (untilNs !== undefined && BigInt(t) * 1_000_000_000n > untilNs) continue;
      let repoTags = repoTagsOf(tags);
      let repoDigests = this.repoDigests(e);
      const refs = f.get('reference');
      if (refs && refs.length > 0) {
        repoTags = repoTags.filter((rt) => refs.some((r) => matchReference(r, rt)));
        repoDigests = repoDigests.filter((rd) => refs.some((r) => matchReference(r, rd.replace(/@.*$/, ''))));
        if (repoTags.length === 0 && repoDigests.length === 0) continue;
      }
      const size = await this.store.size(e, this.deps.snapshotter);
      out.push({
        Id: e.id,
        ParentId: '',
        RepoTags: repoTags,
        RepoDigests: repoDigests,
        Created: t,
        Size: size,
        SharedSize: -1,
        Labels: e.config.config?.Labels ?? {},
        Containers: opts.sharedSize ? this.containersUsing(e.id).length : -1,
        Descriptor: { mediaType: e.target.mediaType, digest: e.target.digest, size: Number(e.target.size) },
      });
    }
    // newest first, as dockerd lists them (ties in a stable order)
    return out.sort((a, b) => b.Created - a.Created || (a.Id < b.Id ? -1 : a.Id > b.Id ? 1 : 0));
  }

  private repoDigests(e: ImageEntry): string[] {
    const out = new Set<string>();
    for (const n of e.names) {
      if (isDanglingName(n)) continue;
      try {
        out.add(`${familiarName(parseNormalizedReference(n))}@${e.target.digest}`);
      } catch {
        // not a reference
      }
    }
    // sorted, as dockerd's reference store lists them
    return [...out].sort();
  }

  async inspect(name: string): Promise<ImageInspect> {
    const d = await this.store.resolve(name);
    const e = await this.store.entry(d.id);
    const c = e.config;
    return {
      Id: e.id,
      RepoTags: repoTagsOf(e.names.filter((n) => !isDanglingName(n))),
      RepoDigests: this.repoDigests(e),
      Parent: '',
      Comment: (c.comment as string | undefined) ?? c.history?.[c.history.length - 1]?.comment ?? '',
      Created: c.created ?? '',
      DockerVersion: (c.docker_version as string | undefined) ?? '',
      Author: c.author ?? '',
      Config: imageContainerConfig(c),
      Architecture: c.architecture,
      ...(c.variant ? { Variant: c.variant } : {}),
      Os: c.os,
      Size: await this.store.size(e, this.deps.snapshotter),
      GraphDriver: { Name: this.deps.snapshotter === 'native' ? 'vfs' : 'overlay2', Data: null },
      RootFS: { Type: 'layers', Layers: e.diffIds },
      Metadata: { LastTagTime: e.updatedAt ? new Date(e.updatedAt).toISOString() : '0001-01-01T00:00:00Z' },
      Descriptor: { mediaType: e.target.mediaType, digest: e.target.digest, size: Number(e.target.size) },
    };
  }

  async history(name: string): Promise<ImageHistoryItem[]> {
    const d = await this.store.resolve(name);
    const e = await this.store.entry(d.id);
    const hist = e.config.history ?? [];
    const layerSizes = e.manifest.layers.map((l) => Number(l.size));
    let li = 0;
    const items: ImageHistoryItem[] = hist.map((h) => {
      const size = h.empty_layer ? 0 : layerSizes[li++] ?? 0;
      return {
        Id: '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: null,
        Size: size,
        Comment: h.comment ?? '',
      };
    });
    if (items.length === 0) items.push({ Id: '<missing>', Created: createdSeconds(e.config), CreatedBy: '', Tags: null, Size: 0, Comment: '' });
    items.reverse();
    items[0]!.Id = e.id;
    items[0]!.Tags = repoTagsOf(e.names.filter((n) => !isDanglingName(n)));
    return items;
  }

  // ---- pull / push ----------------------------------------------------------------------------------------

  /**
   * `POST /images/create?fromImage=&tag=`. Until the first progress message arrives errors are thrown (and
   * become HTTP errors); after that they end the stream as an error message.
   */
  async pull(
    fromImage: string, tag: string | undefined, opts: { platform?: string; auth?: Record<string, string> }, sink: ProgressSink,
  ): Promise<void> {
    let ref = fromImage;
    if (tag) {
      if (tag.startsWith('sha256:')) ref = `${fromImage}@${tag}`;
      else {
        if (!isValidTag(tag)) throw new InvalidArgumentError('invalid tag format');
        ref = `${fromImage}:${tag}`;
      }
    }
    const parsed = withDefaultTag(parseRef(ref));
    const full = formatReference(parsed);
    const shown = parsed.digest ?? parsed.tag ?? 'latest';
    if (opts.platform && !/^linux(\/amd64(\/v\d)?)?$/.test(opts.platform)) {
      throw new NotFoundError(`no matching manifest for ${opts.platform} in the manifest list entries`);
    }
    const stream = this.deps.rt.pullStream({
      ref: full,
      platform: 'linux/amd64',
      auth: toRegistryAuth(opts.auth),
      snapshotter: this.deps.snapshotter,
      mirrors: this.deps.config.registryMirrors,
      insecureRegistries: this.deps.config.insecureRegistries,
    });
    let announced = false;
    // "Already exists" lines are shown only when something new comes too (an up-to-date pull prints none).
    let held: Progress[] = [];
    try {
      for await (const p of stream) {
        if (!announced) {
          announced = true;
          sink.write({ status: `Pulling from ${parsed.domain === 'docker.io' ? parsed.path : familiarName(parsed)}`, id: shown });
        }
        if (p.status === 'Already exists' && !p.result) {
          held.push(p);
          continue;
        }
        if (p.result) {
          const result = p.result;
          if (result.updated) for (const h of held) sink.write(progressMessage(h));
          held = [];
          await this.refreshIndex();
          sink.write({ status: `Digest: ${result.target?.digest ?? ''}` });
          const name = familiarString(parsed);
          sink.write({ status: result.updated ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}` });
          this.deps.events.emit('image', 'pull', name, { name });
          return;
        }
        // The image-level lines are the engine's (with Docker's familiar names); layer lines pass through.
        if (p.status && !/^(Pulling from|Digest:|Status:)/.test(p.status)) {
          for (const h of held) sink.write(progressMessage(h));
          held = [];
          sink.write(progressMessage(p));
        }
      }
      throw new Error(`pull ${full}: the pull ended without a result`);
    } catch (err) {
      // dockerd does not answer 401 for pulls (the CLI would prompt for a login): Docker's "pull access denied".
      const e = err instanceof UnauthorizedError
        ? new NotFoundError(`pull access denied for ${familiarName(parsed)}, repository does not exist or may require 'docker login': ${err.message}`)
        : err;
      if (!sink.started) throw e;
      sink.write(errorMessage(e));
    } finally {
      stream.cancel();
    }
  }

  /** `POST /images/{name}/push?tag=`: every tag of the repository when no tag is given. */
  async push(name: string, tag: string | undefined, auth: Record<string, string> | undefined, sink: ProgressSink): Promise<void> {
    const repo = parseRef(name);
    if (repo.tag || repo.digest) {
      if (tag) throw new InvalidArgumentError(`invalid reference format: ${name}:${tag}`);
    }
    const repoName = formatReference({ domain: repo.domain, path: repo.path });
    let names: string[];
    if (tag || repo.tag) {
      names = [`${repoName}:${tag || repo.tag}`];
    } else {
      names = (await this.deps.rt.images.list()).map((r) => r.name).filter((n) => n.startsWith(`${repoName}:`));
    }
    const existing: string[] = [];
    for (const n of names) if (await this.store.record(n)) existing.push(n);
    if (existing.length === 0) throw new NotFoundError(`An image does not exist locally with the tag: ${familiarName(repo)}${tag ? `:${tag}` : ''}`);
    sink.write({ status: `The push refers to repository [${repoName.replace(/^docker\.io\//, 'docker.io/')}]` });
    for (const n of existing) {
      const stream = this.deps.rt.pushStream({
        name: n, ref: n, platform: 'linux/amd64', auth: toRegistryAuth(auth), insecureRegistries: this.deps.config.insecureRegistries,
      });
      try {
        for await (const p of stream) {
          if (p.result) {
            const t = parseRef(n).tag ?? 'latest';
            const digest = p.result.target?.digest ?? '';
            const size = Number(p.result.target?.size ?? 0);
            sink.write({ status: `${t}: digest: ${digest} size: ${size}` });
            sink.write({ progressDetail: {}, aux: { Tag: t, Digest: digest, Size: size } });
            this.deps.events.emit('image', 'push', familiar(n), { name: familiar(n) });
            break;
          }
          if (p.status) sink.write(progressMessage(p));
        }
      } catch (err) {
        sink.write(errorMessage(err));
        return;
      } finally {
        stream.cancel();
      }
    }
  }

  // ---- tag / remove / prune --------------------------------------------------------------------------------

  async tag(source: string, repo: string, tag: string | undefined): Promise<void> {
    const d = await this.store.resolve(source);
    if (!repo) throw new InvalidArgumentError('repository name must have at least one component');
    if (tag && !isValidTag(tag)) throw new InvalidArgumentError('invalid tag format');
    const ref = parseRef(tag ? `${repo}:${tag}` : repo);
    if (ref.digest) throw new InvalidArgumentError('refusing to create a tag with a digest reference');
    const name = formatReference(withDefaultTag(ref));
    await this.setRecord(name, d);
    this.deps.events.emit('image', 'tag', d.id, { name: familiarString(withDefaultTag(ref)) });
  }

  /** Creates or repoints a record; a dangling record of the same image goes away once it has a name. */
  async setRecord(name: string, d: ImageDetails): Promise<void> {
    try {
      await this.deps.rt.images.create({ name, target: d.target });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await this.deps.rt.images.update({ name, target: d.target }, ['target']);
    }
    await this.deps.rt.images.delete(`${DANGLING_PREFIX}${d.target.digest}`).catch(() => undefined);
    await this.refreshIndex();
  }

  /** Keeps an image without names alive (Docker's dangling images). */
  async keepDangling(d: ImageDetails): Promise<void> {
    await this.deps.rt.images.create({ name: `${DANGLING_PREFIX}${d.target.digest}`, target: d.target }).catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    });
  }

  async remove(input: string, opts: { force?: boolean; noprune?: boolean }): Promise<ImageDeleteResponseItem[]> {
    const d = await this.store.resolve(input);
    const e = await this.store.entry(d.id);
    const tags = e.names.filter((n) => !isDanglingName(n));
    const users = this.containersUsing(e.id);
    const running = users.find((c) => c.running);
    const short = e.id.slice(7, 19);
    const out: ImageDeleteResponseItem[] = [];
    const byName = d.name !== undefined && tags.includes(d.name) && !/^(sha256:)?[a-f0-9]+$/.test(input.trim());
    if (byName) {
      const name = d.name!;
      const last = tags.length === 1;
      if (last && users.length > 0 && !opts.force) {
        const c = users[0]!;
        throw new ConflictError(`conflict: unable to remove repository reference "${input}" (must force) - container ${c.shortId} is using its referenced image ${short}`);
      }
      await this.deps.rt.images.delete(name);
      out.push({ Untagged: familiar(name) });
      this.deps.events.emit('image', 'untag', e.id, { name: familiar(name) });
      if (!last) {
        await this.refreshIndex();
        return out;
      }
      if (users.length > 0) {
        // Forced away from a container's image: the image stays, nameless.
        await this.keepDangling(d);
        await this.refreshIndex();
        return out;
      }
      for (const rd of this.repoDigests(e)) out.push({ Untagged: rd });
      await this.deleteImage(e, out);
      return out;
    }
    // By id.
    if (tags.length > 1 && !opts.force) {
      throw new ConflictError(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
    }
    if (running) throw new ConflictError(`conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${running.shortId}`);
    if (users.length > 0 && !opts.force) {
      throw new ConflictError(`conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${users[0]!.shortId}`);
    }
    for (const n of tags) {
      await this.deps.rt.images.delete(n).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      out.push({ Untagged: familiar(n) });
      this.deps.events.emit('image', 'untag', e.id, { name: familiar(n) });
    }
    for (const rd of this.repoDigests(e)) out.push({ Untagged: rd });
    await this.deleteImage(e, out);
    return out;
  }

  private async deleteImage(e: ImageEntry, out: ImageDeleteResponseItem[]): Promise<void> {
    for (const n of e.names) {
      await this.deps.rt.images.delete(n).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
    out.push({ Deleted: e.id });
    this.deps.events.emit('image', 'delete', e.id, { name: e.id });
    this.store.forget(e.target.digest);
    await this.refreshIndex();
    this.scheduleGc();
  }

  private gcTimer: NodeJS.Timeout | undefined;

  /** Runs runtimed's GC soon (coalesced), so removed images free their space. */
  scheduleGc(): void {
    if (this.gcTimer) return;
    this.gcTimer = setTimeout(() => {
      this.gcTimer = undefined;
      this.deps.rt.gc().catch((err: unknown) => this.deps.log.debug({ err }, 'gc failed'));
    }, 50);
    this.gcTimer.unref();
  }

  async prune(filters: Filters): Promise<{ ImagesDeleted: ImageDeleteResponseItem[] | null; SpaceReclaimed: number }> {
    for (const k of filters.keys()) if (!['dangling', 'label', 'label!', 'until'].includes(k)) throw new InvalidArgumentError(`invalid filter '${k}'`);
    const danglingOnly = !['false', '0'].includes(filters.get('dangling')?.[0] ?? 'true');
    const until = filters.get('until')?.[0];
    const untilNs = until ? parseEventTime(until) : undefined;
    const all = await this.refreshIndex();
    const deleted: ImageDeleteResponseItem[] = [];
    let reclaimed = 0;
    for (const e of all) {
      const tags = e.names.filter((n) => !isDanglingName(n));
      if (danglingOnly && tags.length > 0) continue;
      if (this.containersUsing(e.id).length > 0) continue;
      if (!matchLabels(filters.get('label'), e.config.config?.Labels ?? null)) continue;
      if (filters.get('label!') && !matchLabels(filters.get('label!'), e.config.config?.Labels ?? null, true)) continue;
      if (untilNs !== undefined && BigInt(createdSeconds(e.config)) * 1_000_000_000n > untilNs) continue;
      reclaimed += await this.store.size(e, this.deps.snapshotter);
      for (const n of tags) deleted.push({ Untagged: familiar(n) });
      await this.deleteImage(e, deleted);
    }
    this.deps.events.emit('image', 'prune', '', { reclaimed: String(reclaimed) });
    return { ImagesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
  }

  async diskUsage(): Promise<{ layersSize: number; images: ImageSummary[] }> {
    const images = await this.list({ filters: new Map(), sharedSize: true });
    let layersSize = 0;
    for (const i of images) layersSize += i.Size;
    return { layersSize, images };
  }

  notFound(name: string): NotFoundError {
    return new NotFoundError(`No such image: ${notFoundName(name)}`);
  }
}

/** Docker's `reference=` filter: a glob against the familiar name (with and without its tag). */
export function matchReference(pattern: string, repoTag: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
  const name = repoTag.replace(/:[^:/]+$/, '');
  return re.test(repoTag) || re.test(name);
}

/** An image's tags as dockerd reports them: digest references (`name@sha256:…`) are RepoDigests, not tags; lexical order. */
function repoTagsOf(names: string[]): string[] {
  return names.filter((n) => !n.includes('@')).map(familiar).sort();
}
