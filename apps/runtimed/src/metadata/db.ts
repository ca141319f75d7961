/**
 * The metadata store: one SQLite database (better-sqlite3, WAL) under the root. Every mutation that touches
 * more than one row runs in a transaction, so a crash at any moment leaves either the old or the new state.
 * Times are milliseconds since the epoch; labels and other maps are JSON text.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export type Db = Database.Database;

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS namespaces (
  name TEXT PRIMARY KEY,
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  media_type TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  annotations TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, name)
);
CREATE TABLE IF NOT EXISTS containers (
  namespace TEXT NOT NULL,
  id TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  image TEXT NOT NULL DEFAULT '',
  runtime_name TEXT NOT NULL DEFAULT '',
  runtime_options TEXT,
  spec TEXT,
  snapshotter TEXT NOT NULL DEFAULT '',
  snapshot_key TEXT NOT NULL DEFAULT '',
  extensions TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, id)
);
CREATE TABLE IF NOT EXISTS leases (
  namespace TEXT NOT NULL,
  id TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, id)
);
CREATE TABLE IF NOT EXISTS lease_resources (
  namespace TEXT NOT NULL,
  lease TEXT NOT NULL,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  PRIMARY KEY (namespace, lease, type, id)
);
CREATE TABLE IF NOT EXISTS content (
  namespace TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, digest)
);
CREATE INDEX IF NOT EXISTS content_by_digest ON content (digest);
CREATE TABLE IF NOT EXISTS ingests (
  namespace TEXT NOT NULL,
  ref TEXT NOT NULL,
  expected TEXT NOT NULL DEFAULT '',
  total INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, ref)
);
CREATE TABLE IF NOT EXISTS snapshots (
  namespace TEXT NOT NULL,
  snapshotter TEXT NOT NULL,
  key TEXT NOT NULL,
  backend_key TEXT NOT NULL,
  parent TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, snapshotter, key)
);
CREATE UNIQUE INDEX IF NOT EXISTS snapshots_by_backend ON snapshots (snapshotter, backend_key);
CREATE TABLE IF NOT EXISTS tasks (
  namespace TEXT NOT NULL,
  container_id TEXT NOT NULL,
  shim_id TEXT NOT NULL,
  socket TEXT NOT NULL,
  bundle TEXT NOT NULL,
  pid INTEGER NOT NULL DEFAULT 0,
  stdin TEXT NOT NULL DEFAULT '',
  stdout TEXT NOT NULL DEFAULT '',
  stderr TEXT NOT NULL DEFAULT '',
  terminal INTEGER NOT NULL DEFAULT 0,
  exit_published INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, container_id)
);
`;

/** Opens (creating if needed) the metadata database at `<root>/metadata.db`. */
export function openDb(root: string): Db {
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const db = new Database(path.join(root, 'metadata.db'));
  reusePreparedStatements(db);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a crash loses at most the last transactions, never consistency.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === 0) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  else if (version > SCHEMA_VERSION) {
    db.close();
    throw new Error(`open metadata ${path.join(root, 'metadata.db')}: schema version ${version} is newer than this runtimed (${SCHEMA_VERSION})`);
  }
  return db;
}

/** Statements kept per SQL text; past this many distinct texts (filters build some) the cache starts over. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Makes `db.prepare(sql)` return the statement prepared earlier for the same text: the stores call prepare() on
 * every operation, and compiling the SQL again was ~6% of runtimed's CPU while containers start. Safe because no
 * caller changes a statement's mode (pluck/raw/expand) or holds an iterator across calls.
 */
function reusePreparedStatements(db: Db): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, ReturnType<Db['prepare']>>();
  db.prepare = ((sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
      stmt = prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  }) as Db['prepare'];
}

export function toJson(v: unknown): string {
  return JSON.stringify(v ?? {});
}

export function fromJson<T>(s: string | null | undefined, fallback: T): T {
  if (!s) return fallback;
  return JSON.parse(s) as T;
}
