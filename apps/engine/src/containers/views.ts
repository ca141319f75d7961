/** Container list and inspect responses, assembled from the manager, the networking and runtimed. */
import type { ContainerInspect, ContainerSummary } from '@berth/docker-api';
import { InvalidArgumentError } from '@berth/errdefs';
import { parseFilters, type Filters } from '../api/query.ts';
import type { Engine } from '../engine.ts';
import type { Container } from './container.ts';
import { CONTAINER_FILTERS, inspectOf, matchContainer, summaryOf } from './inspect.ts';
import { layerDirs } from './rootfs.ts';

export interface ListOptions { all?: boolean; limit?: number; size?: boolean; filters?: string }

/** The image a container shows in `ps`: what the user typed, or the image id once that name points elsewhere. */
function imageShown(engine: Engine, c: Container): string {
  const current = engine.images.idOf(c.rec.ImageName);
  if (c.rec.ImageName && current !== undefined && current !== c.rec.Image) return c.rec.Image;
  return c.rec.ImageRef;
}

export async function listContainers(engine: Engine, opts: ListOptions): Promise<ContainerSummary[]> {
  const f: Filters = parseFilters(opts.filters, CONTAINER_FILTERS);
  const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : undefined;
  const all = opts.all || limit !== undefined || f.has('status') || f.has('exited');
  let cs = engine.containers.list().sort((a, b) => (a.rec.Created < b.rec.Created ? 1 : a.rec.Created > b.rec.Created ? -1 : 0));
  const before = f.get('before')?.[0];
  const since = f.get('since')?.[0];
  const ctx = {
    before: before ? engine.containers.get(before) : undefined,
    since: since ? engine.containers.get(since) : undefined,
    ancestors: (c: Container) => engine.images.ancestorsOf(c.rec.Image, c.rec.ImageRef),
  };
  if (f.has('ancestor')) await engine.images.refreshIndex();
  const out: ContainerSummary[] = [];
  for (const c of cs) {
    if (!all && !c.running) continue;
    const network = engine.networking.settings(c.view());
    if (!matchContainer(c, f, { ...ctx, network })) continue;
    out.push(summaryOf(c, network, imageShown(engine, c)));
    if (limit !== undefined && out.length >= limit) break;
  }
  cs = [];
  if (opts.size) {
    await Promise.all(out.map(async (s) => {
      const c = engine.containers.find(s.Id);
      if (!c) return;
      const sizes = await sizesOf(engine, c);
      s.SizeRw = sizes.rw;
      s.SizeRootFs = sizes.rootfs;
    }));
  }
  return out;
}

export async function sizesOf(engine: Engine, c: Container): Promise<{ rw: number; rootfs: number }> {
  let rw = 0;
  try {
    rw = (await engine.rt.snapshots.usage(c.rec.SnapshotKey, c.rec.Snapshotter)).size;
  } catch {
    rw = 0;
  }
  let image = 0;
  try {
    const d = await engine.images.store.resolve(c.rec.Image);
    image = await engine.images.store.size(d, c.rec.Snapshotter);
  } catch {
    image = 0;
  }
  return { rw, rootfs: rw + image };
}

export async function inspectContainer(engine: Engine, c: Container, size: boolean): Promise<ContainerInspect> {
  let graph: Record<string, string> | null = null;
  try {
    const mounts = await engine.rt.snapshots.mounts(c.rec.SnapshotKey, c.rec.Snapshotter);
    const m = mounts[0];
    if (m?.type === 'overlay') {
      const dirs = layerDirs(mounts);
      const opt = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
      graph = {
        LowerDir: dirs.slice(1).join(':'),
        MergedDir: c.hasTask ? `/proc/${c.rec.State.Pid}/root` : '',
        UpperDir: opt('upperdir'),
        WorkDir: opt('workdir'),
      };
    } else if (m) {
      graph = { SourceDir: m.source };
    }
  } catch {
    graph = null;
  }
  const sources = new Map<string, string>();
  for (const m of c.rec.Mounts) if (m.Type === 'volume' && m.Source) sources.set(m.Destination, m.Source);
  const out = inspectOf(c, engine.networking.settings(c.view()), graph, sources);
  if (size) {
    const s = await sizesOf(engine, c);
    out.SizeRw = s.rw;
    out.SizeRootFs = s.rootfs;
  }
  return out;
}

export function parseWaitCondition(v: string | undefined): 'not-running' | 'next-exit' | 'removed' {
  if (v === undefined || v === '' || v === 'not-running') return 'not-running';
  if (v === 'next-exit' || v === 'removed') return v;
  throw new InvalidArgumentError(`invalid condition: "${v}"`);
}
