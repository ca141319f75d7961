/**
 * The seam through which the networks and volumes parts of berthd plug in without editing the engine's files.
 *
 * An *extension* is a module under `src/networks/` or `src/volumes/` whose `index.ts` exports
 * `createExtension(host: ExtensionHost): Promise<EngineExtension | undefined>`. The engine calls it once at
 * start-up; the extension may register HTTP routes (served under both `/vX.Y/` and unversioned paths, with the
 * engine's error mapping) and may provide the `Networking` and/or `Volumes` implementation the container
 * lifecycle calls. Where no extension provides one, the engine's built-ins are used (networking: `none`,
 * `host` and `container:<id>` modes; volumes: none — volume mounts are refused).
 *
 * Vocabulary: a container's *network attachment* is what its task joins (a namespace path, the host's stack,
 * or a fresh empty namespace) and the files bind-mounted at /etc/hosts, /etc/resolv.conf and /etc/hostname.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ContainerConfig, EndpointSettings, HostConfig, NetworkSettings } from '@berth/docker-api';
import type { DaemonConfig } from './config.ts';
import type { MountRecord } from './containers/record.ts';
import type { EventBus } from './system/events.ts';

/** A read-only view of a container, as the lifecycle hands it to extensions. */
export interface ContainerView {
  id: string;
  /** Without the leading slash. */
  name: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  endpointsConfig: Record<string, EndpointSettings>;
  /** The container's own directory under the data root (for its hosts/resolv.conf/hostname files). */
  dir: string;
  /** The init's pid while running, else 0. */
  pid: number;
  running: boolean;
}

export interface NetworkAttachment {
  /** `{path}`: join that namespace; `host`: the host's stack; `new`: a fresh namespace made by the runtime. */
  netns: { path: string } | 'host' | 'new';
  hostname: string;
  domainname: string;
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
}

export interface Networking {
  /**
   * At create, before anything is stored: checks `HostConfig.NetworkMode` and the endpoints (unknown networks
   * are NotFoundError "network x not found", bad combinations InvalidArgumentError). May normalize the mode
   * (e.g. `default` → `bridge`). Must not leave anything behind.
   */
  validate(req: {
    id: string; name: string; config: ContainerConfig; hostConfig: HostConfig; endpointsConfig: Record<string, EndpointSettings>;
  }): Promise<void>;
  /** Before the container's task is created: sets up (or reuses) its network stack. */
  attach(c: ContainerView): Promise<NetworkAttachment>;
  /** Once the task is running (pid known); e.g. for setting up a namespace made by the runtime. Optional. */
  started?(c: ContainerView): Promise<void>;
  /** After the task is gone (exit, stop, kill, failed start). Idempotent. */
  detach(c: ContainerView): Promise<void>;
  /** The container is being removed. Idempotent. */
  remove(c: ContainerView): Promise<void>;
  /** The container was renamed (DNS names follow). */
  renamed?(c: ContainerView, oldName: string): Promise<void>;
  /** After a daemon restart, for every container (running or not), before any is started. */
  restore?(c: ContainerView): Promise<void>;
  /** `NetworkSettings` for inspect and `ps` (from live state; called for stopped containers too). */
  settings(c: ContainerView): NetworkSettings;
}

/** A mount source the volumes extension resolved for one container start. */
export interface ResolvedVolume {
  /** Host path to bind-mount. */
  source: string;
}

export interface Volumes {
  /**
   * At create: for each `Type: volume` mount, makes sure the volume exists (creating named ones as Docker
   * does, anonymous ones with a generated name) and fills in `Name` (and `Driver`). Records the reference.
   * On failure nothing created by this call may remain.
   */
  prepare(containerId: string, mounts: MountRecord[]): Promise<void>;
  /**
   * At start: the host path for a volume mount. `imageDir` gives (lazily) a directory holding the image's
   * content at the mount's destination, for the copy-up into a new empty volume (`CopyData`).
   */
  mount(containerId: string, m: MountRecord, imageDir: () => Promise<string | undefined>): Promise<ResolvedVolume>;
  /** After the task is gone. Idempotent. */
  unmount(containerId: string, mounts: MountRecord[]): Promise<void>;
  /** At removal: drops the container's references; `removeAnonymous` (`docker rm -v`) removes its anonymous volumes. */
  release(containerId: string, mounts: MountRecord[], opts: { removeAnonymous: boolean }): Promise<void>;
  /** After a daemon restart: the references of every existing container. */
  restore?(containerId: string, mounts: MountRecord[]): Promise<void>;
  /** For `system df` and `system prune`. */
  usage?(): Promise<unknown[]>;
}

/** What the engine offers an extension. */
export interface ExtensionHost {
  config: DaemonConfig;
  log: FastifyBaseLogger;
  events: EventBus;
  /** Every container as a view (for `network inspect`'s Containers, in-use checks, `container:<name>`). */
  containers(): ContainerView[];
  /** A container by id, name or unique id prefix (NotFoundError "No such container: x"). */
  container(ref: string): ContainerView;
}

export interface EngineExtension {
  name: string;
  /** Registers routes on the engine's app (both path forms are served). */
  routes?(app: FastifyInstance): void | Promise<void>;
  networking?: Networking;
  volumes?: Volumes;
  /** Contributes to `GET /system/df` and `POST …/prune`, `docker info`. */
  info?(): Record<string, unknown>;
  close?(): Promise<void>;
}

export type ExtensionFactory = (host: ExtensionHost) => Promise<EngineExtension | undefined>;
