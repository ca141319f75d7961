/**
 * berthd's wiring: runtimed (started or given), the engine's parts, the extensions, restore, the app and its
 * listeners; and the graceful stop that leaves containers running (live restore).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { RuntimedClient } from '@berth/containerd-api';
import { FailedPreconditionError, isAlreadyExists } from '@berth/errdefs';
import { HijackRoutes } from './api/hijack.ts';
import { build } from './app.ts';
import { BuiltinNetworking } from './builtin-networking.ts';
import { snapshotterFor, type DaemonConfig } from './config.ts';
import { writeAtomic } from './containers/store.ts';
import { ContainerManager } from './containers/manager.ts';
import type { Engine } from './engine.ts';
import { ExecManager } from './exec/manager.ts';
import type { EngineExtension, ExtensionFactory, ExtensionHost } from './extensions.ts';
import { HealthMonitor } from './containers/health.ts';
import { ImageArchives } from './images/archive.ts';
import { ImageService } from './images/service.ts';
import { checkHosts, listen, type Listener } from './listeners.ts';
import { createExtension as networksExtension } from './networks/index.ts';
import { startRuntimed, type RuntimedHandle } from './runtimed-process.ts';
import { EventBus } from './system/events.ts';
import { hostFacts } from './system/host.ts';
import { createExtension as volumesExtension } from './volumes/index.ts';

export interface Daemon {
  engine: Engine;
  app: FastifyInstance;
  listeners: Listener[];
  stop(): Promise<void>;
}

export function createLogger(level: string): FastifyBaseLogger {
  const dest = pino.destination({ fd: 2, sync: false });
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest) as unknown as FastifyBaseLogger;
}

/** The extensions compiled into berthd (the seam is ./extensions.ts). */
export const EXTENSIONS: ExtensionFactory[] = [networksExtension, volumesExtension];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A stable daemon id (docker info's ID), kept in the data root. */
function daemonId(dataRoot: string): string {
  const f = path.join(dataRoot, 'engine-id');
  try {
    return readFileSync(f, 'utf8').trim();
  } catch {
    const id = randomBytes(16).toString('hex').replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5');
    writeAtomic(f, id, 0o600);
    return id;
  }
}

export async function startDaemon(
  config: DaemonConfig, log: FastifyBaseLogger, opts: { extensions?: ExtensionFactory[] } = {},
): Promise<Daemon> {
  checkHosts(config);
  mkdirSync(config.dataRoot, { recursive: true, mode: 0o711 });
  mkdirSync(config.execRoot, { recursive: true, mode: 0o711 });
  if (existsSync(config.pidfile)) {
    const pid = Number(readFileSync(config.pidfile, 'utf8').trim());
    if (pid > 0 && pid !== process.pid && alive(pid)) {
      throw new FailedPreconditionError(`pid file found, ensure berthd is not running or delete ${config.pidfile}`);
    }
  }
  writeFileSync(config.pidfile, String(process.pid));

  let runtimed: RuntimedHandle | undefined;
  let rt: RuntimedClient | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  try {
    let address = config.containerd;
    if (!address) {
      runtimed = await startRuntimed(config, log);
      address = runtimed.address;
    }
    rt = new RuntimedClient(address, { namespace: config.containerdNamespace });
    await rt.waitReady(30_000);
    await rt.namespaces.create(config.containerdNamespace, { 'io.berth.engine': 'berthd' }).catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    });
    const runtimedVersion = (await rt.version()).version;
    const host = hostFacts();
    const events = new EventBus();
    const snapshotter = snapshotterFor(config.storageDriver);
    const hijack = new HijackRoutes();

    // The engine object is filled in as its parts come up (extensions need the container views).
    const id = daemonId(config.dataRoot);
    const engine = { config, log, rt, events, hijack, host, snapshotter, id, runtimedVersion, extensions: [] } as unknown as Engine;
    const extHost: ExtensionHost = {
      config, log, events,
      containers: () => engine.containers.views(),
      container: (ref: string) => engine.containers.get(ref).view(),
    };
    const extensions: EngineExtension[] = [];
    for (const factory of opts.extensions ?? EXTENSIONS) {
      const ext = await factory(extHost);
      if (ext) {
        extensions.push(ext);
        if (ext.close) cleanups.push(ext.close);
      }
    }
    engine.extensions = extensions;
    engine.networking = extensions.find((e) => e.networking)?.networking ?? new BuiltinNetworking(extHost);
    engine.volumes = extensions.find((e) => e.volumes)?.volumes;
    engine.images = new ImageService({ rt, config, log, events, snapshotter, containers: () => engine.containers.list() });
    engine.archives = new ImageArchives({ rt, images: engine.images, config, snapshotter });
    engine.containers = new ContainerManager({
      config, log, rt, images: engine.images.store, events, networking: engine.networking, volumes: engine.volumes, snapshotter,
      cgroupV2: host.cgroupVersion === '2',
    });
    engine.execs = new ExecManager({ rt, containers: engine.containers, config, log });
    const health = new HealthMonitor(engine);
    cleanups.push(async () => health.stop());
    await engine.images.refreshIndex().catch((err: unknown) => log.warn({ err }, 'listing images failed'));
    engine.containers.watchOom();
    await engine.containers.restore();

    const app = await build(engine);
    await app.ready();
    const listeners = await listen(app, hijack, config);
    events.emit('daemon', 'start', engine.id, { name: host.hostname });
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        log.info('shutting down; containers keep running');
        for (const l of listeners) await l.close();
        await engine.containers.shutdown();
        for (const c of cleanups.reverse()) await c().catch((err: unknown) => log.warn({ err }, 'cleanup failed'));
        await app.close().catch(() => undefined);
        rt!.close();
        await runtimed?.stop();
        rmSync(config.pidfile, { force: true });
      })();
      return stopping;
    };
    return { engine, app, listeners, stop };
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    rt?.close();
    await runtimed?.stop().catch(() => undefined);
    rmSync(config.pidfile, { force: true });
    throw err;
  }
}
