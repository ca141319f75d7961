/**
 * The pull and push jobs: @berth/distribution's RegistryClient moving images between a registry and one
 * namespace of the content store, unpacking layers into snapshots as they arrive (named by chainID, as
 * containerd's unpacker does) and keeping the image record. A pull holds a lease while it works, so a
 * concurrent GC never takes what is not yet referenced by the image.
 */
import { randomBytes } from 'node:crypto';
import type { JobResult } from '@berth/containerd-api';
import { fromTimestamp, toTimestamp } from '@berth/containerd-api';
import { InvalidArgumentError, isNotFound } from '@berth/errdefs';
import { RegistryClient, snapshotUnpacker, type AuthConfig, type UnpackSnapshotter } from '@berth/distribution';
import { LABEL_GC_REF_SNAPSHOT } from '@berth/layer-store';
import type { SnapshotterCapability } from '@berth/snapshotter';
import type { Logger } from 'pino';
import type { Context } from '../context.ts';
import { NamespacedContentStore } from '../content/namespaced-store.ts';
import { GC_EXPIRE_LABEL } from '../metadata/leases.ts';
import type { JobProgress } from './queue.ts';

export interface PullJobData {
  namespace: string;
  ref: string;
  platform: string;
  snapshotter: string;
  skipUnpack: boolean;
  name: string;
  labels: Record<string, string>;
  insecureRegistries: string[];
  mirrors: string[];
}

export interface PushJobData {
  namespace: string;
  name: string;
  ref: string;
  platform: string;
  insecureRegistries: string[];
}

/** Registry clients per (mirrors, insecure registries), so connections and tokens are reused across jobs. */
export class Registries {
  private readonly clients = new Map<string, RegistryClient>();
  private readonly defaults: { mirrors: string[]; insecureRegistries: string[] };

  constructor(defaults: { mirrors: string[]; insecureRegistries: string[] }) {
    this.defaults = defaults;
  }

  get(mirrors: string[], insecure: string[]): RegistryClient {
    const opts = {
      mirrors: [...new Set([...mirrors, ...this.defaults.mirrors])],
      insecureRegistries: [...new Set([...insecure, ...this.defaults.insecureRegistries])],
    };
    const key = JSON.stringify(opts);
    let c = this.clients.get(key);
    if (!c) this.clients.set(key, (c = new RegistryClient(opts)));
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/**
 * The namespace's snapshots as the snapshotter @berth/distribution's snapshotUnpacker drives: every change
 * joins the job's lease. Layers are applied on worker threads while they download, in parallel where the
 * backend can rebase (overlayfs), and committed in order.
 */
function unpackSnapshotter(ctx: Context, ns: string, snapshotter: string, lease: string): UnpackSnapshotter {
  const template = ctx.snapshots.whiteoutTemplate(snapshotter);
  const capabilities = ctx.snapshots.capabilities(snapshotter).filter((c): c is SnapshotterCapability => c === 'rebase');
  return {
    capabilities,
    ...(template ? { whiteoutTemplate: template } : {}),
    stat: async (key) => {
      const info = ctx.snapshots.stat(ns, snapshotter, key);
      return {
        name: info.name, kind: info.kind === 'COMMITTED' ? 'committed' : info.kind === 'VIEW' ? 'view' : 'active',
        ...(info.parent ? { parent: info.parent } : {}), labels: info.labels ?? {},
        createdAt: fromTimestamp(info.createdAt) ?? new Date(0), updatedAt: fromTimestamp(info.updatedAt) ?? new Date(0),
      };
    },
    prepare: async (key, parent, opts) => ctx.snapshots.prepare(ns, snapshotter, key, parent ?? '', opts?.labels ?? {}, lease),
    commit: (name, key, opts) => ctx.snapshots.commit(ns, snapshotter, name, key, opts?.labels ?? {}, lease, opts?.parent),
    remove: (key) => ctx.snapshots.remove(ns, snapshotter, key),
  };
}

async function withLease<T>(ctx: Context, ns: string, fn: (lease: string) => Promise<T>): Promise<T> {
  ctx.namespaces.ensure(ns);
  const lease = ctx.leases.create(ns, `berth-job-${randomBytes(8).toString('hex')}`, {
    [GC_EXPIRE_LABEL]: new Date(Date.now() + 3600_000).toISOString(),
  });
  try {
    return await fn(lease.id);
  } finally {
    // Gone already if an expiry sweep took it; either way nothing is held any more.
    if (ctx.leases.exists(ns, lease.id)) ctx.leases.delete(ns, lease.id);
  }
}

export async function runPull(ctx: Context, registries: Registries, d: PullJobData, auth: AuthConfig | undefined,
  report: (p: JobProgress) => Promise<void>, log: Logger): Promise<JobResult> {
  if (!d.ref) throw new InvalidArgumentError('pull: reference must not be empty');
  const snapshotter = d.snapshotter || ctx.config.snapshotter;
  const client = registries.get(d.mirrors, d.insecureRegistries);
  const started = Date.now();
  return withLease(ctx, d.namespace, async (lease) => {
    const store = new NamespacedContentStore(ctx.content, d.namespace, lease);
    let pending = Promise.resolve();
    const result = await client.pull(d.ref, {
      contentStore: store,
      ...(d.platform ? { platform: d.platform } : {}),
      ...(auth ? { auth } : {}),
      ...(d.skipUnpack ? {} : { unpack: snapshotUnpacker(unpackSnapshotter(ctx, d.namespace, snapshotter, lease)) }),
      onProgress: (e) => {
        pending = pending.then(() => report({ id: e.id, status: e.status, current: e.current ?? 0, total: e.total ?? 0 })).catch(() => {});
      },
    });
    await pending;
    if (!d.skipUnpack && result.chainIds.length > 0) {
      // The image's config holds its snapshots (containerd's unpacker sets the same label).
      ctx.content.update(d.namespace, result.config.digest, { [`${LABEL_GC_REF_SNAPSHOT}${snapshotter}`]: result.chainIds.at(-1)! },
        [`labels.${LABEL_GC_REF_SNAPSHOT}${snapshotter}`]);
    }
    const name = d.name || result.name;
    const target = { mediaType: result.target.mediaType, digest: result.target.digest, size: result.target.size, annotations: {} };
    let updated = result.downloaded.length > 0;
    let existing;
    try {
      existing = ctx.images.get(d.namespace, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const record = { name, labels: d.labels ?? {}, target, createdAt: toTimestamp(), updatedAt: toTimestamp() };
    if (!existing) {
      ctx.images.create(d.namespace, record);
      ctx.events.emit(d.namespace, '/images/create', { name, labels: record.labels });
      updated = true;
    } else if (existing.target.digest !== target.digest) {
      ctx.images.update(d.namespace, record, ['target', ...Object.keys(record.labels).map((k) => `labels.${k}`)]);
      ctx.events.emit(d.namespace, '/images/update', { name, labels: record.labels });
      updated = true;
    }
    log.info({ ref: d.ref, name, digest: target.digest, downloaded: result.downloaded.length, ms: Date.now() - started }, 'pulled');
    return { name, target, updated };
  });
}

export async function runPush(ctx: Context, registries: Registries, d: PushJobData, auth: AuthConfig | undefined,
  report: (p: JobProgress) => Promise<void>, log: Logger): Promise<JobResult> {
  const image = ctx.images.get(d.namespace, d.name);
  const client = registries.get([], d.insecureRegistries);
  let pending = Promise.resolve();
  const res = await client.push(d.ref || d.name, {
    contentStore: new NamespacedContentStore(ctx.content, d.namespace),
    target: { mediaType: image.target.mediaType, digest: image.target.digest as `${string}:${string}`, size: image.target.size },
    ...(auth ? { auth } : {}),
    ...(d.platform ? { platform: d.platform } : {}),
    onProgress: (e) => {
      pending = pending.then(() => report({ id: e.id, status: e.status, current: e.current ?? 0, total: e.total ?? 0 })).catch(() => {});
    },
  });
  await pending;
  log.info({ name: d.name, ref: res.name, digest: res.digest }, 'pushed');
  return { name: res.name, target: { mediaType: res.mediaType, digest: res.digest, size: res.size, annotations: {} }, updated: true };
}
