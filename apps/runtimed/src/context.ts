/** What every service of the daemon is given: configuration, logger, stores and the shared machinery. */
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { ContentManager } from './content/manager.ts';
import type { SnapshotManager } from './snapshots/manager.ts';
import type { EventBus } from './events.ts';
import type { ContainerStore } from './metadata/containers.ts';
import type { Db } from './metadata/db.ts';
import type { ImageStore } from './metadata/images.ts';
import type { LeaseStore } from './metadata/leases.ts';
import type { NamespaceStore } from './metadata/namespaces.ts';

export interface Context {
  readonly config: Config;
  readonly log: Logger;
  readonly db: Db;
  readonly namespaces: NamespaceStore;
  readonly images: ImageStore;
  readonly containers: ContainerStore;
  readonly leases: LeaseStore;
  readonly events: EventBus;
  /** The server's identity (Introspection/Server), stable across restarts of the same root. */
  readonly uuid: string;
  readonly gc: GarbageCollector;
  readonly content: ContentManager;
  readonly snapshots: SnapshotManager;
}

export interface GcResult { removedContent: number; removedSnapshots: number; removedIngests: number; durationMs: number }

export interface GarbageCollector {
  /** Runs a collection soon (after deletions), coalescing bursts. */
  schedule(): void;
  /** schedule(), unless dropping these references cannot have left anything to collect. */
  scheduleFor(ns: string, refs: Array<{ type: string; id: string }>): void;
  /** Runs a collection now (after any running one) and reports what it removed. */
  collect(): Promise<GcResult>;
}
