/**
 * Content metadata per namespace: which blobs a namespace has (with its own labels) and its active ingests.
 * The bytes live once in the blob store; a blob leaves the disk only when no namespace has it any more.
 */
import { NotFoundError } from '@berth/errdefs';
import { toTimestamp, type ContentInfo, type ContentStatus } from '@berth/containerd-api';
import { fromJson, toJson, type Db } from './db.ts';
import { compileFilters } from './filters.ts';
import { applyLabelPaths, validateLabels, type Labels } from './labels.ts';

interface Row { digest: string; size: number; labels: string; created_at: number; updated_at: number }
interface IngestRow { ref: string; expected: string; total: number; started_at: number; updated_at: number }

function toInfo(r: Row): ContentInfo {
  return {
    digest: r.digest, size: r.size, labels: fromJson(r.labels, {}),
    createdAt: toTimestamp(r.created_at), updatedAt: toTimestamp(r.updated_at),
  };
}

export class ContentMeta {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  find(ns: string, digest: string): ContentInfo | undefined {
    const r = this.db.prepare('SELECT * FROM content WHERE namespace = ? AND digest = ?').get(ns, digest) as Row | undefined;
    return r && toInfo(r);
  }

  info(ns: string, digest: string): ContentInfo {
    const info = this.find(ns, digest);
    if (!info) throw new NotFoundError(`content digest ${digest}: not found`);
    return info;
  }

  list(ns: string, filters: string[] = []): ContentInfo[] {
    const match = compileFilters(filters);
    const rows = this.db.prepare('SELECT * FROM content WHERE namespace = ? ORDER BY created_at').all(ns) as Row[];
    return rows.map(toInfo).filter((c) => match((p) => {
      if (p[0] === 'labels') return c.labels[p.slice(1).join('.')];
      if (p[0] === 'digest') return c.digest;
      if (p[0] === 'size') return String(c.size);
      return undefined;
    }));
  }

  /** Records that the namespace has the blob (insert, or refresh labels when `labels` is given). */
  put(ns: string, digest: string, size: number, labels: Labels | undefined): ContentInfo {
    const now = Date.now();
    const existing = this.find(ns, digest);
    if (existing) {
      if (labels && Object.keys(labels).length > 0) {
        const merged = validateLabels({ ...existing.labels, ...labels }, `content ${digest}`);
        this.db.prepare('UPDATE content SET labels = ?, updated_at = ? WHERE namespace = ? AND digest = ?').run(toJson(merged), now, ns, digest);
      }
    } else {
      this.db.prepare('INSERT INTO content (namespace, digest, size, labels, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(ns, digest, size, toJson(validateLabels(labels ?? {}, `content ${digest}`)), now, now);
    }
    return this.info(ns, digest);
  }

  update(ns: string, digest: string, labels: Labels, paths: string[] | undefined): ContentInfo {
    const cur = this.info(ns, digest);
    let next: Labels;
    if (!paths || paths.length === 0) next = labels;
    else {
      const applied = applyLabelPaths(cur.labels, labels, paths);
      if (applied.rest.length > 0) throw new NotFoundError(`update content ${digest}: cannot update ${applied.rest.join(', ')}`);
      next = applied.labels;
    }
    validateLabels(next, `content ${digest}`);
    this.db.prepare('UPDATE content SET labels = ?, updated_at = ? WHERE namespace = ? AND digest = ?').run(toJson(next), Date.now(), ns, digest);
    return this.info(ns, digest);
  }

  delete(ns: string, digest: string): void {
    const r = this.db.prepare('DELETE FROM content WHERE namespace = ? AND digest = ?').run(ns, digest);
    if (r.changes === 0) throw new NotFoundError(`content digest ${digest}: not found`);
  }

  /** Whether any namespace still has the blob. */
  referenced(digest: string): boolean {
    return this.db.prepare('SELECT 1 FROM content WHERE digest = ? LIMIT 1').get(digest) !== undefined;
  }

  // --- ingests ---

  ingest(ns: string, ref: string): IngestRow | undefined {
    return this.db.prepare('SELECT ref, expected, total, started_at, updated_at FROM ingests WHERE namespace = ? AND ref = ?').get(ns, ref) as
      IngestRow | undefined;
  }

  putIngest(ns: string, ref: string, expected: string, total: number): IngestRow {
    const now = Date.now();
    this.db.prepare(`INSERT INTO ingests (namespace, ref, expected, total, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (namespace, ref) DO UPDATE SET expected = CASE WHEN excluded.expected != '' THEN excluded.expected ELSE expected END,
        total = CASE WHEN excluded.total > 0 THEN excluded.total ELSE total END, updated_at = excluded.updated_at`).run(ns, ref, expected, total, now, now);
    return this.ingest(ns, ref)!;
  }

  touchIngest(ns: string, ref: string): void {
    this.db.prepare('UPDATE ingests SET updated_at = ? WHERE namespace = ? AND ref = ?').run(Date.now(), ns, ref);
  }

  deleteIngest(ns: string, ref: string): boolean {
    return this.db.prepare('DELETE FROM ingests WHERE namespace = ? AND ref = ?').run(ns, ref).changes > 0;
  }

  ingests(ns: string): IngestRow[] {
    return this.db.prepare('SELECT ref, expected, total, started_at, updated_at FROM ingests WHERE namespace = ? ORDER BY started_at').all(ns) as IngestRow[];
  }

  static status(row: IngestRow, offset: number): ContentStatus {
    return {
      ref: row.ref, offset, total: row.total, expected: row.expected,
      startedAt: toTimestamp(row.started_at), updatedAt: toTimestamp(row.updated_at),
    };
  }
}
