/** Image records: a name pointing at a target descriptor (index or manifest) in the content store. */
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { toTimestamp, type Descriptor, type Image } from '@berth/containerd-api';
import { fromJson, toJson, type Db } from './db.ts';
import { compileFilters } from './filters.ts';
import { applyLabelPaths, validateLabels } from './labels.ts';

interface Row {
  name: string;
  labels: string;
  media_type: string;
  digest: string;
  size: number;
  annotations: string;
  created_at: number;
  updated_at: number;
}

const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function toImage(r: Row): Image {
  return {
    name: r.name,
    labels: fromJson(r.labels, {}),
    target: { mediaType: r.media_type, digest: r.digest, size: r.size, annotations: fromJson(r.annotations, {}) },
    createdAt: toTimestamp(r.created_at),
    updatedAt: toTimestamp(r.updated_at),
  };
}

function validateTarget(name: string, t: Descriptor | null | undefined): Descriptor {
  if (!t || !t.digest) throw new InvalidArgumentError(`image ${name}: target digest must not be empty`);
  if (!DIGEST_RE.test(t.digest)) throw new InvalidArgumentError(`image ${name}: target digest ${t.digest} is invalid`);
  if (!t.mediaType) throw new InvalidArgumentError(`image ${name}: target media type must not be empty`);
  return t;
}

export class ImageStore {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  get(ns: string, name: string): Image {
    const row = this.db.prepare('SELECT * FROM images WHERE namespace = ? AND name = ?').get(ns, name) as Row | undefined;
    if (!row) throw new NotFoundError(`image "${name}": not found`);
    return toImage(row);
  }

  list(ns: string, filters: string[] = []): Image[] {
    const match = compileFilters(filters);
    const rows = this.db.prepare('SELECT * FROM images WHERE namespace = ? ORDER BY name').all(ns) as Row[];
    return rows.map(toImage).filter((img) => match((p) => {
      if (p[0] === 'labels') return img.labels[p.slice(1).join('.')];
      if (p[0] === 'name') return img.name;
      if (p[0] === 'target') {
        if (p[1] === 'digest') return img.target.digest;
        if (p[1] === 'mediatype') return img.target.mediaType;
      }
      return undefined;
    }));
  }

  /** Every image in every namespace (GC roots). */
  all(): Array<{ namespace: string; image: Image }> {
    const rows = this.db.prepare('SELECT * FROM images').all() as Array<Row & { namespace: string }>;
    return rows.map((r) => ({ namespace: r.namespace, image: toImage(r) }));
  }

  create(ns: string, img: Image): Image {
    if (!img.name) throw new InvalidArgumentError('create image: name must not be empty');
    const t = validateTarget(img.name, img.target);
    validateLabels(img.labels ?? {}, `image ${img.name}`);
    const now = Date.now();
    const r = this.db.prepare(`INSERT OR IGNORE INTO images (namespace, name, labels, media_type, digest, size, annotations, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(ns, img.name, toJson(img.labels), t.mediaType, t.digest, t.size, toJson(t.annotations), now, now);
    if (r.changes === 0) throw new AlreadyExistsError(`image "${img.name}": already exists`);
    return this.get(ns, img.name);
  }

  update(ns: string, img: Image, paths: string[] | undefined): Image {
    if (!img.name) throw new InvalidArgumentError('update image: name must not be empty');
    const current = this.get(ns, img.name);
    let labels = current.labels;
    let target = current.target;
    if (!paths || paths.length === 0) {
      labels = img.labels ?? {};
      target = validateTarget(img.name, img.target);
    } else {
      const applied = applyLabelPaths(current.labels, img.labels ?? {}, paths);
      labels = applied.labels;
      for (const p of applied.rest) {
        if (p === 'target') target = validateTarget(img.name, img.target);
        else if (p === 'annotations' || p.startsWith('annotations.')) {
          target = { ...target, annotations: applyLabelPaths(target.annotations, img.target?.annotations ?? {}, [p.replace(/^annotations/, 'labels')]).labels };
        } else throw new InvalidArgumentError(`update image ${img.name}: cannot update ${p}`);
      }
    }
    validateLabels(labels, `image ${img.name}`);
    this.db.prepare(`UPDATE images SET labels = ?, media_type = ?, digest = ?, size = ?, annotations = ?, updated_at = ?
      WHERE namespace = ? AND name = ?`).run(toJson(labels), target.mediaType, target.digest, target.size, toJson(target.annotations), Date.now(), ns, img.name);
    return this.get(ns, img.name);
  }

  delete(ns: string, name: string): void {
    const r = this.db.prepare('DELETE FROM images WHERE namespace = ? AND name = ?').run(ns, name);
    if (r.changes === 0) throw new NotFoundError(`image "${name}": not found`);
  }
}
