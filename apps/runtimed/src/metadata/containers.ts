/** Container records (containerd's sense: metadata only — spec, runtime, snapshot key; the process is a task). */
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { toTimestamp, type Any, type Container } from '@berth/containerd-api';
import { fromJson, toJson, type Db } from './db.ts';
import { compileFilters } from './filters.ts';
import { applyLabelPaths, validateLabels } from './labels.ts';

interface Row {
  id: string;
  labels: string;
  image: string;
  runtime_name: string;
  runtime_options: string | null;
  spec: string | null;
  snapshotter: string;
  snapshot_key: string;
  extensions: string;
  created_at: number;
  updated_at: number;
}

const ID_RE = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

export function validateId(id: string, what: string): string {
  if (!id || id.length > 76 || !ID_RE.test(id)) {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(id)}: invalid identifier (letters, digits and '.', '_', '-' between them; up to 76 characters)`);
  }
  return id;
}

function anyToText(a: Any | null | undefined): string | null {
  return a && a.type_url ? JSON.stringify({ type_url: a.type_url, value: Buffer.from(a.value ?? []).toString('base64') }) : null;
}

function anyFromText(s: string | null): Any | null {
  if (!s) return null;
  const o = JSON.parse(s) as { type_url: string; value: string };
  return { type_url: o.type_url, value: Buffer.from(o.value, 'base64') };
}

function extensionsToText(ext: Record<string, Any> | null | undefined): string {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ext ?? {})) o[k] = JSON.parse(anyToText(v) ?? 'null');
  return toJson(o);
}

function extensionsFromText(s: string): Record<string, Any> {
  const o = fromJson<Record<string, unknown>>(s, {});
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, anyFromText(JSON.stringify(v))!]));
}

function toContainer(r: Row): Container {
  return {
    id: r.id,
    labels: fromJson(r.labels, {}),
    image: r.image,
    runtime: { name: r.runtime_name, options: anyFromText(r.runtime_options) },
    spec: anyFromText(r.spec),
    snapshotter: r.snapshotter,
    snapshotKey: r.snapshot_key,
    createdAt: toTimestamp(r.created_at),
    updatedAt: toTimestamp(r.updated_at),
    extensions: extensionsFromText(r.extensions),
  };
}

export class ContainerStore {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  get(ns: string, id: string): Container {
    const row = this.db.prepare('SELECT * FROM containers WHERE namespace = ? AND id = ?').get(ns, id) as Row | undefined;
    if (!row) throw new NotFoundError(`container "${id}" in namespace "${ns}": not found`);
    return toContainer(row);
  }

  list(ns: string, filters: string[] = []): Container[] {
    const match = compileFilters(filters);
    const rows = this.db.prepare('SELECT * FROM containers WHERE namespace = ? ORDER BY created_at').all(ns) as Row[];
    return rows.map(toContainer).filter((c) => match((p) => {
      switch (p[0]) {
        case 'labels': return c.labels[p.slice(1).join('.')];
        case 'id': return c.id;
        case 'image': return c.image;
        case 'runtime': return p[1] === 'name' ? c.runtime?.name : undefined;
        case 'snapshotter': return c.snapshotter;
        case 'snapshotkey': return c.snapshotKey;
        default: return undefined;
      }
    }));
  }

  /** Every container in every namespace (GC roots). */
  all(): Array<{ namespace: string; container: Container }> {
    const rows = this.db.prepare('SELECT * FROM containers').all() as Array<Row & { namespace: string }>;
    return rows.map((r) => ({ namespace: r.namespace, container: toContainer(r) }));
  }

  create(ns: string, c: Container): Container {
    validateId(c.id, 'create container');
    if (!c.runtime?.name) throw new InvalidArgumentError(`create container ${c.id}: container.Runtime.Name must be set`);
    if (!c.spec?.type_url) throw new InvalidArgumentError(`create container ${c.id}: container.Spec must be set`);
    if (c.snapshotKey && !c.snapshotter) throw new InvalidArgumentError(`create container ${c.id}: container.Snapshotter must be set if container.SnapshotKey is set`);
    validateLabels(c.labels ?? {}, `container ${c.id}`);
    const now = Date.now();
    const r = this.db.prepare(`INSERT OR IGNORE INTO containers
      (namespace, id, labels, image, runtime_name, runtime_options, spec, snapshotter, snapshot_key, extensions, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(ns, c.id, toJson(c.labels), c.image ?? '', c.runtime.name, anyToText(c.runtime.options),
      anyToText(c.spec), c.snapshotter ?? '', c.snapshotKey ?? '', extensionsToText(c.extensions), now, now);
    if (r.changes === 0) throw new AlreadyExistsError(`container "${c.id}": already exists`);
    return this.get(ns, c.id);
  }

  update(ns: string, c: Container, paths: string[] | undefined): Container {
    validateId(c.id, 'update container');
    const cur = this.get(ns, c.id);
    const next: Container = { ...cur };
    if (!paths || paths.length === 0) {
      if (c.runtime?.name && c.runtime.name !== cur.runtime?.name) throw new InvalidArgumentError(`update container ${c.id}: runtime is immutable`);
      if (c.snapshotter && c.snapshotter !== cur.snapshotter) throw new InvalidArgumentError(`update container ${c.id}: snapshotter is immutable`);
      next.labels = c.labels ?? {};
      next.spec = c.spec ?? null;
      next.extensions = c.extensions ?? {};
      next.image = c.image ?? '';
      next.snapshotKey = c.snapshotKey ?? '';
    } else {
      const applied = applyLabelPaths(cur.labels, c.labels ?? {}, paths);
      next.labels = applied.labels;
      for (const p of applied.rest) {
        if (p === 'spec') next.spec = c.spec ?? null;
        else if (p === 'image') next.image = c.image ?? '';
        else if (p === 'snapshotkey') next.snapshotKey = c.snapshotKey ?? '';
        else if (p === 'extensions') next.extensions = c.extensions ?? {};
        else if (p.startsWith('extensions.')) {
          const k = p.slice('extensions.'.length);
          const v = c.extensions?.[k];
          next.extensions = { ...next.extensions };
          if (v) next.extensions[k] = v;
          else delete next.extensions[k];
        } else throw new InvalidArgumentError(`update container ${c.id}: cannot update ${p}`);
      }
    }
    if (!next.spec?.type_url) throw new InvalidArgumentError(`update container ${c.id}: container.Spec must be set`);
    validateLabels(next.labels, `container ${c.id}`);
    this.db.prepare(`UPDATE containers SET labels = ?, image = ?, spec = ?, snapshot_key = ?, extensions = ?, updated_at = ?
      WHERE namespace = ? AND id = ?`).run(toJson(next.labels), next.image, anyToText(next.spec), next.snapshotKey, extensionsToText(next.extensions),
      Date.now(), ns, c.id);
    return this.get(ns, c.id);
  }

  delete(ns: string, id: string): void {
    const r = this.db.prepare('DELETE FROM containers WHERE namespace = ? AND id = ?').run(ns, id);
    if (r.changes === 0) throw new NotFoundError(`container "${id}" in namespace "${ns}": not found`);
  }
}
