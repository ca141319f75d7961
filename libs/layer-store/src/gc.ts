/**
 * Garbage-collection references, containerd's conventions. Objects point at what they keep alive through labels:
 *   containerd.io/gc.ref.content[.<name>|/<name>] = <digest>            → a blob
 *   containerd.io/gc.ref.snapshot.<snapshotter>[/<name>] = <key>        → a snapshot
 *   containerd.io/gc.root = <anything>                                   → the object is a root itself
 * Snapshots also keep their parent alive. The mark phase is `reachable`: the caller (runtimed, which knows
 * images, containers and leases) gives the roots and a way to read an object's labels; everything not
 * returned may be deleted. Images' manifests/indexes carry the labels set by `childGcLabels`.
 */
import type { Digest } from '@berth/oci';

export const LABEL_GC_ROOT = 'containerd.io/gc.root';
export const LABEL_GC_REF_CONTENT = 'containerd.io/gc.ref.content';
export const LABEL_GC_REF_SNAPSHOT = 'containerd.io/gc.ref.snapshot.';
export const LABEL_GC_EXPIRE = 'containerd.io/gc.expire';
/** On a layer blob: the diffID of its uncompressed content. */
export const LABEL_UNCOMPRESSED = 'containerd.io/uncompressed';
/** On a blob: where it was pulled from (`containerd.io/distribution.source.<host>` = repository path). */
export const LABEL_DISTRIBUTION_SOURCE_PREFIX = 'containerd.io/distribution.source.';
/** On a snapshot unpacked from a layer: its uncompressed digest (containerd's unpacker sets it). */
export const LABEL_SNAPSHOT_UNCOMPRESSED = 'containerd.io/snapshot.ref';

export type GcNode =
  | { type: 'content'; digest: Digest }
  | { type: 'snapshot'; snapshotter: string; key: string };

/** The nodes an object's labels point at. */
export function labelReferences(labels: Record<string, string> | undefined): GcNode[] {
  const out: GcNode[] = [];
  if (!labels) return out;
  for (const [k, v] of Object.entries(labels)) {
    const sep = k[LABEL_GC_REF_CONTENT.length];
    if (k === LABEL_GC_REF_CONTENT || (k.startsWith(LABEL_GC_REF_CONTENT) && (sep === '.' || sep === '/'))) {
      out.push({ type: 'content', digest: v as Digest });
    } else if (k.startsWith(LABEL_GC_REF_SNAPSHOT)) {
      let snapshotter = k.slice(LABEL_GC_REF_SNAPSHOT.length);
      const slash = snapshotter.indexOf('/');
      if (slash >= 0) snapshotter = snapshotter.slice(0, slash);
      if (snapshotter) out.push({ type: 'snapshot', snapshotter, key: v });
    }
  }
  return out;
}

export function isGcRoot(labels: Record<string, string> | undefined): boolean {
  return labels !== undefined && LABEL_GC_ROOT in labels;
}

export function gcNodeKey(n: GcNode): string {
  return n.type === 'content' ? `content/${n.digest}` : `snapshot/${n.snapshotter}/${n.key}`;
}

export interface GcSnapshot {
  labels: Record<string, string>;
  parent?: string;
}

export interface GcGraph {
  /** Labels of a blob, undefined if it does not exist. */
  contentLabels(digest: Digest): Record<string, string> | undefined | Promise<Record<string, string> | undefined>;
  /** Labels and parent of a snapshot, undefined if it does not exist. */
  snapshot(snapshotter: string, key: string): GcSnapshot | undefined | Promise<GcSnapshot | undefined>;
}

/** Marks everything reachable from `roots` (keys as `gcNodeKey`). Missing objects end their branch. */
export async function reachable(roots: Iterable<GcNode>, graph: GcGraph): Promise<Set<string>> {
  const seen = new Set<string>();
  const stack: GcNode[] = [...roots];
  while (stack.length) {
    const n = stack.pop()!;
    const key = gcNodeKey(n);
    if (seen.has(key)) continue;
    if (n.type === 'content') {
      const labels = await graph.contentLabels(n.digest);
      if (labels === undefined) continue;
      seen.add(key);
      stack.push(...labelReferences(labels));
    } else {
      const s = await graph.snapshot(n.snapshotter, n.key);
      if (s === undefined) continue;
      seen.add(key);
      if (s.parent) stack.push({ type: 'snapshot', snapshotter: n.snapshotter, key: s.parent });
      stack.push(...labelReferences(s.labels));
    }
  }
  return seen;
}

/**
 * The labels a manifest or index blob carries for its children (containerd's images.ChildGCLabels):
 * config → `…content.config`, layers → `…content.l.<i>`, index entries → `…content.m.<i>`.
 */
type Children = { config?: { digest: Digest }; layers?: { digest: Digest }[]; manifests?: { digest: Digest }[] };

export function childGcLabels(doc: Children): Record<string, string> {
  const out: Record<string, string> = {};
  if (doc.config) out[`${LABEL_GC_REF_CONTENT}.config`] = doc.config.digest;
  doc.layers?.forEach((l, i) => (out[`${LABEL_GC_REF_CONTENT}.l.${i}`] = l.digest));
  doc.manifests?.forEach((m, i) => (out[`${LABEL_GC_REF_CONTENT}.m.${i}`] = m.digest));
  return out;
}

/** The label an image config carries to keep its unpacked snapshot chain alive: `gc.ref.snapshot.<snapshotter>` = chainID. */
export function snapshotGcLabel(snapshotter: string, chainID: string): Record<string, string> {
  return { [`${LABEL_GC_REF_SNAPSHOT}${snapshotter}`]: chainID };
}
