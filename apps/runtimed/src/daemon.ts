/**
 * Builds and runs the daemon: metadata, stores, the job queue's Redis, the gRPC services, tasks over shims.
 * `startDaemon` returns once the socket accepts calls; `stop()` shuts down gracefully and leaves running
 * containers (and their shims) alone.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { ServerHooks } from '@berth/containerd-api';
import { codeOf } from '@berth/errdefs';
import type { Config } from './config.ts';
import type { Context } from './context.ts';
import { EventBus } from './events.ts';
import { startRedis, type RedisHandle } from './jobs/redis.ts';
import { ContainerStore } from './metadata/containers.ts';
import { openDb } from './metadata/db.ts';
import { ImageStore } from './metadata/images.ts';
import { LeaseStore } from './metadata/leases.ts';
import { NamespaceStore } from './metadata/namespaces.ts';
import { createGrpcServer, listenUnix, shutdownServer } from './server.ts';
import { addContainersService } from './services/containers.ts';
import { addEventsService } from './services/events.ts';
import { addImagesService } from './services/images.ts';
import { addLeasesService } from './services/leases.ts';
import { addNamespacesService } from './services/namespaces.ts';
import { addVersionServices } from './services/version.ts';
import { GarbageCollector } from './gc.ts';
import { LocalContentStore } from '@berth/layer-store';
import { ContentManager } from './content/manager.ts';
import { ContentMeta } from './metadata/content-meta.ts';
import { addContentService } from './services/content.ts';
import { addTasksService } from './services/tasks.ts';
import { TaskManager } from './tasks/manager.ts';
import { findShim } from './tasks/shim-binary.ts';
import { TaskStore } from './metadata/tasks.ts';
import { addDiffService } from './services/diff.ts';
import { JobSecrets, addJobServices } from './services/jobs.ts';
import type { JobQueue } from './jobs/queue.ts';
import type { PullJobData, PushJobData } from './jobs/transfer.ts';
import { addSnapshotsService } from './services/snapshots.ts';
import { openBackends } from './snapshots/backends.ts';
import { SnapshotManager } from './snapshots/manager.ts';
import { SnapshotMeta } from './metadata/snapshot-meta.ts';

export interface Daemon {
  readonly context: Context;
  readonly tasks: TaskManager;
  readonly redis: RedisHandle;
  stop(): Promise<void>;
}

function serverUuid(root: string): string {
  const file = path.join(root, 'uuid');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const id = randomUUID();
    writeFileSync(file, id, { mode: 0o644 });
    return id;
  }
}

export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: { pid: process.pid, name: 'berth-runtimed' } }, pino.destination({ fd: 2, sync: false }));
}

export async function startDaemon(config: Config, log: Logger = createLogger(config.logLevel)): Promise<Daemon> {
  mkdirSync(config.root, { recursive: true, mode: 0o711 });
  mkdirSync(config.state, { recursive: true, mode: 0o711 });
  const db = openDb(config.root);
  const cleanups: Array<() => Promise<void> | void> = [() => {
    db.close();
  }];
  try {
    const redis = await startRedis({ url: config.redisUrl, state: config.state, server: config.redisServer, log });
    cleanups.unshift(() => redis.stop());
    const partial = {
      config, log, db,
      namespaces: new NamespaceStore(db),
      images: new ImageStore(db),
      containers: new ContainerStore(db),
      leases: new LeaseStore(db),
      events: new EventBus(),
      uuid: serverUuid(config.root),
    };
    const gc = new GarbageCollector(partial, config.gcDelayMs);
    const content = new ContentManager({
      meta: new ContentMeta(db), blobs: await LocalContentStore.open(path.join(config.root, 'content')),
      leases: partial.leases, namespaces: partial.namespaces, events: partial.events, log,
    });
    gc.addBackend(content);
    const backends = await openBackends(config.root, log);
    cleanups.unshift(async () => {
      for (const b of backends.values()) await b.close();
    });
    const snapshots = new SnapshotManager({
      meta: new SnapshotMeta(db), leases: partial.leases, namespaces: partial.namespaces, events: partial.events, log,
    }, backends);
    gc.addBackend(snapshots);
    const context: Context = { ...partial, gc, content, snapshots };
    const tasks = new TaskManager(context, new TaskStore(db), {
      shimBinary: findShim(config.shim), spares: config.spareShims, refillDelayMs: config.spareRefillDelayMs,
      tasksPerShim: config.tasksPerShim,
    });
    await tasks.restore();
    cleanups.unshift(() => tasks.close());

    // The job queue, BullMQ and the registry client load on first use (a pull, push or scheduled GC): an idle
    // runtimed keeps them out of memory.
    const secrets = new JobSecrets();
    let registries: { close(): void } | undefined;
    let queue: Promise<JobQueue> | undefined;
    const jobs = () => {
      queue ??= (async () => {
        const [{ JobQueue: Q }, t] = await Promise.all([import('./jobs/queue.ts'), import('./jobs/transfer.ts')]);
        const r = new t.Registries({ mirrors: config.registryMirrors, insecureRegistries: config.insecureRegistries });
        registries = r;
        return Q.start(redis.options, partial.uuid, log, {
          pull: (data, report, jlog, jobId) => t.runPull(context, r, data as unknown as PullJobData, secrets.get(jobId), report, jlog),
          push: (data, report, jlog, jobId) => t.runPush(context, r, data as unknown as PushJobData, secrets.get(jobId), report, jlog),
          gc: () => gc.runScheduled(),
        });
      })();
      queue.catch(() => (queue = undefined));
      return queue;
    };
    gc.scheduler = async (delayMs) => (await jobs()).scheduleGc(delayMs);
    cleanups.unshift(async () => {
      if (queue) await (await queue.catch(() => undefined))?.close();
      registries?.close();
    });
    cleanups.unshift(() => gc.close());

    const hooks: ServerHooks = {
      onError(method, err) {
        const code = codeOf(err);
        const level = code === 'internal' ? 'error' : 'debug';
        log[level]({ method, code, err: code === 'internal' ? err : undefined }, (err as Error).message ?? String(err));
      },
      onDone(method, ms) {
        log.trace({ method, ms: Math.round(ms * 10) / 10 }, 'call');
      },
    };
    const server = createGrpcServer();
    addVersionServices(server, context, hooks);
    addNamespacesService(server, context, hooks);
    addLeasesService(server, context, hooks);
    addImagesService(server, context, hooks);
    addContainersService(server, context, (ns, id) => tasks.has(ns, id), hooks);
    addEventsService(server, context, hooks);
    addContentService(server, context, content, hooks);
    addSnapshotsService(server, context, snapshots, hooks);
    addDiffService(server, context, hooks);
    addJobServices(server, context, jobs, secrets, hooks);
    addTasksService(server, tasks, hooks);
    await listenUnix(server, config.address, config.socketGid);
    cleanups.unshift(() => shutdownServer(server));
    log.info({ address: config.address, root: config.root, state: config.state, redisPid: redis.pid }, 'berth-runtimed serving');

    let stopping: Promise<void> | undefined;
    return {
      context,
      tasks,
      redis,
      stop() {
        stopping ??= (async () => {
          for (const c of cleanups) {
            try {
              await c();
            } catch (err) {
              log.warn({ err }, 'shutdown step failed');
            }
          }
          log.info('berth-runtimed stopped');
          log.flush();
        })();
        return stopping;
      },
    };
  } catch (err) {
    for (const c of cleanups) {
      try {
        await c();
      } catch { /* report the original error */ }
    }
    throw err;
  }
}
