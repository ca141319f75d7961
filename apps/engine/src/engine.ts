/**
 * The engine's parts, wired once by the daemon (./daemon.ts) and handed to `build()` (./app.ts) and the route
 * modules. Tests build the same object around their own daemon processes.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RuntimedClient } from '@berth/containerd-api';
import type { HijackRoutes } from './api/hijack.ts';
import type { DaemonConfig } from './config.ts';
import type { ContainerManager } from './containers/manager.ts';
import type { EngineExtension, Networking, Volumes } from './extensions.ts';
import type { ExecManager } from './exec/manager.ts';
import type { ImageArchives } from './images/archive.ts';
import type { ImageService } from './images/service.ts';
import type { EventBus } from './system/events.ts';
import type { HostFacts } from './system/host.ts';

export const ENGINE_VERSION = '0.1.0';

export interface Engine {
  config: DaemonConfig;
  log: FastifyBaseLogger;
  rt: RuntimedClient;
  events: EventBus;
  images: ImageService;
  archives: ImageArchives;
  containers: ContainerManager;
  execs: ExecManager;
  networking: Networking;
  volumes: Volumes | undefined;
  extensions: EngineExtension[];
  hijack: HijackRoutes;
  host: HostFacts;
  snapshotter: string;
  /** Daemon id for `docker info`. */
  id: string;
  runtimedVersion: string;
}
