// Persisted records: one JSON file per network and per sandbox under the manager's root, written atomically.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { readJson, writeFileAtomic } from './atomic-file.ts';
import type { Logger } from './logger.ts';
import type { NetworkRecord, SandboxRecord } from './types.ts';

export class NetworkStore {
  private readonly networksDir: string;
  private readonly sandboxesDir: string;

  private readonly log: Logger;

  constructor(root: string, log: Logger) {
    this.log = log;
    this.networksDir = path.join(root, 'networks');
    this.sandboxesDir = path.join(root, 'sandboxes');
    mkdirSync(this.networksDir, { recursive: true });
    mkdirSync(this.sandboxesDir, { recursive: true });
  }

  loadNetworks(): NetworkRecord[] {
    return this.loadAll<NetworkRecord>(this.networksDir);
  }

  loadSandboxes(): SandboxRecord[] {
    return this.loadAll<SandboxRecord>(this.sandboxesDir);
  }

  saveNetwork(r: NetworkRecord): void {
    writeFileAtomic(path.join(this.networksDir, `${r.id}.json`), JSON.stringify(r, null, 2));
  }

  deleteNetwork(id: string): void {
    rmSync(path.join(this.networksDir, `${id}.json`), { force: true });
  }

  /** Not fsynced: a sandbox does not outlive the host's uptime (its namespace is gone after a reboot). */
  saveSandbox(r: SandboxRecord): void {
    writeFileAtomic(path.join(this.sandboxesDir, `${r.containerId}.json`), JSON.stringify(r, null, 2), 0o644, false);
  }

  deleteSandbox(containerId: string): void {
    rmSync(path.join(this.sandboxesDir, `${containerId}.json`), { force: true });
  }

  private loadAll<T>(dir: string): T[] {
    const out: T[] = [];
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.json')) {
        // A temp file left by a crash mid-write: the record it was replacing is intact.
        if (f.includes('.tmp-')) rmSync(path.join(dir, f), { force: true });
        continue;
      }
      try {
        out.push(readJson<T>(path.join(dir, f)));
      } catch (err) {
        this.log.warn({ err, file: path.join(dir, f) }, 'ignoring unreadable network record');
      }
    }
    return out;
  }
}
