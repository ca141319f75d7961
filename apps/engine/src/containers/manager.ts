/**
 * The container lifecycle: create, start, stop, kill, restart, pause, unpause, remove, rename, update, wait,
 * exits (restart policies, auto-remove) and restore after a daemon restart. States and transitions are Docker's;
 * refusals use Docker's messages. The task side (spec, runtimed calls) is in ./task.ts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { ExitStatus, RuntimedClient } from '@berth/containerd-api';
import { fromTimestamp } from '@berth/containerd-api';
import type { ContainerCreateRequest, HostConfig, Resources } from '@berth/docker-api';
import {
  ConflictError, InvalidArgumentError, NotFoundError, NotImplementedError, NotModifiedError, isNotFound, isUnavailable, wrap,
} from '@berth/errdefs';
import type { DaemonConfig } from '../config.ts';
import type { ContainerView, Networking, Volumes } from '../extensions.ts';
import type { ImageStore } from '../images/store.ts';
import { containerMounts } from '../spec/mounts.ts';
import type { EventBus } from '../system/events.ts';
import { Container, type ExitInfo, type WaitCondition } from './container.ts';
import {
  checkCreateRequest, commandOf, endpointsOf, mergeImageConfig, normalizeHostConfig, validateHealthcheck, validateHostConfig,
  validateResources, validateRestartPolicy,
} from './create.ts';
import { NameRegistry } from './names.ts';
import { emptyState, nowRfc3339Nano, timeMs, type ContainerRecord, type MountRecord } from './record.ts';
import { parseSignal, signalName } from './signals.ts';
import { ContainerStore } from './store.ts';
import { TaskRunner } from './task.ts';

export interface ManagerDeps {
  config: DaemonConfig;
  log: FastifyBaseLogger;
  rt: RuntimedClient;
  images: ImageStore;
  events: EventBus;
  networking: Networking;
  volumes: Volumes | undefined;
  snapshotter: string;
  cgroupV2: boolean;
}

const SIGKILL = 9;
const SIGTERM = 15;
const RESTART_BACKOFF_START_MS = 100;
const RESTART_BACKOFF_MAX_MS = 60_000;

export class ContainerManager {
  readonly store: ContainerStore;
  readonly names = new NameRegistry();
  readonly task: TaskRunner;
  private readonly byId = new Map<string, Container>();
  private readonly deps: ManagerDeps;
  private readonly log: FastifyBaseLogger;
  private readonly backoff = new Map<string, number>();
  private closing = false;
  /** Hooks other parts register (health checks start/stop with the task). */
  private readonly startedHooks: ((c: Container) => void)[] = [];
  private readonly stoppedHooks: ((c: Container) => void)[] = [];

  constructor(deps: ManagerDeps) {
    this.deps = deps;
    this.log = deps.log.child({ component: 'containers' });
    this.store = new ContainerStore(path.join(deps.config.dataRoot, 'containers'));
    this.task = new TaskRunner(deps, this);
  }

  get rt(): RuntimedClient {
    return this.deps.rt;
  }

  onStarted(fn: (c: Container) => void): void {
    this.startedHooks.push(fn);
  }

  onStopped(fn: (c: Container) => void): void {
    this.stoppedHooks.push(fn);
  }

  // ---- lookup ----------------------------------------------------------------------------------------------

  /** By full id, name (with or without `/`), or unique id prefix; Docker's "No such container". */
  get(ref: string): Container {
    const c = this.find(ref);
    if (!c) throw new NotFoundError(`No such container: ${ref}`);
    return c;
  }

  find(ref: string): Container | undefined {
    if (!ref) return undefined;
    const exact = this.byId.get(ref);
    if (exact) return exact;
    const byName = this.names.get(ref);
    if (byName) return this.byId.get(byName);
    if (!/^[a-f0-9]+$/.test(ref)) return undefined;
    let found: Container | undefined;
    for (const c of this.byId.values()) {
      if (c.id.startsWith(ref)) {
        if (found) throw new InvalidArgumentError(`multiple IDs found with provided prefix: ${ref}`);
        found = c;
      }
    }
    return found;
  }

  list(): Container[] {
    return [...this.byId.values()].filter((c) => !c.removed);
  }

  views(): ContainerView[] {
    return this.list().map((c) => c.view());
  }

  // ---- create ----------------------------------------------------------------------------------------------

  async create(body: unknown, opts: { name?: string; platform?: string }): Promise<{ Id: string; Warnings: string[] }> {
    const req: ContainerCreateRequest = checkCreateRequest(body);
    const hc: HostConfig = req.HostConfig ?? {};
    if (!req.Image) throw new InvalidArgumentError('no image was specified');
    if (opts.platform && !/^linux(\/amd64(\/v\d)?)?$/.test(opts.platform)) {
      throw new NotFoundError(`No such image: ${req.Image} (platform ${opts.platform} is not available)`);
    }
    const warnings = validateHostConfig(hc, this.deps.config);
    validateHealthcheck(req.Healthcheck);
    if (opts.name !== undefined && opts.name !== '') this.names.get(opts.name); // validated by reserve below
    const image = await this.deps.images.resolve(req.Image);

    const id = randomBytes(32).toString('hex');
    const name = opts.name ? this.names.reserve(opts.name, id) : this.names.generate(id);
    let snapshotPrepared = false;
    let volumesPrepared = false;
    let mounts: MountRecord[] = [];
    const dir = this.store.dir(id);
    try {
      const { HostConfig: _h, NetworkingConfig: _n, ...configPart } = req;
      const config = mergeImageConfig(configPart, image.config);
      config.Image = req.Image;
      const cmd = commandOf(config);
      const endpointsConfig = endpointsOf(req);
      // dockerd's default network mode: `default` (what the CLI sends, also as the endpoint's key) is `bridge`.
      // A daemon started with `--bridge none` has no default bridge: as with dockerd, such a container gets a network
      // namespace with loopback only and `-p` publishes nothing (berth records the mode as `none`, without ports).
      if ((!hc.NetworkMode || hc.NetworkMode === 'default') && this.deps.config.bridge === 'none') {
        hc.NetworkMode = 'none';
        hc.PortBindings = {};
        hc.PublishAllPorts = false;
        delete endpointsConfig.default;
      } else if (!hc.NetworkMode || hc.NetworkMode === 'default') {
        hc.NetworkMode = 'bridge';
        if (endpointsConfig.default) {
          endpointsConfig.bridge = { ...endpointsConfig.default, ...(endpointsConfig.bridge ?? {}) };
          delete endpointsConfig.default;
        }
      }
      await this.deps.networking.validate({ id, name: name.slice(1), config, hostConfig: hc, endpointsConfig });
      const mode = hc.NetworkMode ?? '';
      if (!config.Hostname && mode !== 'host' && !mode.startsWith('container:')) config.Hostname = id.slice(0, 12);
      config.Hostname ??= '';
      mounts = containerMounts(hc, Object.keys(config.Volumes ?? {}));
      mounts.push(...this.volumesFrom(hc, mounts));
      for (const m of mounts) {
        if (m.Type === 'bind' && m.FromMountApi && !existsSync(m.Source)) {
          throw new InvalidArgumentError(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
        }
      }
      const normalized = normalizeHostConfig(hc, {
        init: this.deps.config.init, cgroupV2: this.deps.cgroupV2, defaultShmSize: this.deps.config.defaultShmSize,
      });

      const rec: ContainerRecord = {
        Id: id,
        Created: nowRfc3339Nano(),
        Name: name,
        Path: cmd.path,
        Args: cmd.args,
        Config: {
          Hostname: config.Hostname, Domainname: config.Domainname ?? '', User: config.User ?? '',
          AttachStdin: config.AttachStdin ?? false, AttachStdout: config.AttachStdout ?? false, AttachStderr: config.AttachStderr ?? false,
          ...(config.ExposedPorts && Object.keys(config.ExposedPorts).length > 0 ? { ExposedPorts: config.ExposedPorts } : {}),
          Tty: config.Tty ?? false, OpenStdin: config.OpenStdin ?? false, StdinOnce: config.StdinOnce ?? false,
          Env: config.Env ?? [], Cmd: config.Cmd ?? null,
          ...(config.Healthcheck ? { Healthcheck: config.Healthcheck } : {}),
          ...(config.ArgsEscaped ? { ArgsEscaped: config.ArgsEscaped } : {}),
          Image: config.Image, Volumes: config.Volumes && Object.keys(config.Volumes).length > 0 ? config.Volumes : null,
          WorkingDir: config.WorkingDir ?? '', Entrypoint: config.Entrypoint ?? null,
          ...(config.NetworkDisabled ? { NetworkDisabled: true } : {}),
          OnBuild: config.OnBuild ?? null, Labels: config.Labels ?? {},
          ...(config.StopSignal ? { StopSignal: config.StopSignal } : {}),
          ...(config.StopTimeout !== undefined && config.StopTimeout !== null ? { StopTimeout: config.StopTimeout } : {}),
          ...(config.Shell ? { Shell: config.Shell } : {}),
        },
        HostConfig: normalized,
        EndpointsConfig: endpointsConfig,
        Image: image.id,
        ImageName: image.name ?? '',
        ImageRef: req.Image,
        ImageTarget: image.target.digest,
        ImageChainId: image.chainId,
        State: emptyState(),
        RestartCount: 0,
        HasBeenStartedBefore: false,
        HasBeenManuallyStopped: false,
        Driver: this.deps.snapshotter === 'native' ? 'vfs' : 'overlay2',
        Snapshotter: this.deps.snapshotter,
        SnapshotKey: id,
        LogPath: path.join(dir, `${id}-json.log`),
        Mounts: mounts,
        Platform: 'linux',
      };

      await this.deps.rt.snapshots.prepare(id, image.chainId, {
        snapshotter: this.deps.snapshotter, labels: { 'containerd.io/gc.root': new Date().toISOString() },
      }).catch((err: unknown) => {
        throw wrap(err, `prepare the filesystem of container ${id}`);
      });
      snapshotPrepared = true;
      const volumeMounts = mounts.filter((m) => m.Type === 'volume');
      if (volumeMounts.length > 0) {
        if (this.deps.volumes) {
          await this.deps.volumes.prepare(id, volumeMounts);
          volumesPrepared = true;
        } else if (volumeMounts.some((m) => !m.Anonymous)) {
          throw new NotImplementedError('volumes are not available in this daemon (no volumes extension is installed)');
        } else {
          // No volumes part: the image's VOLUMEs stay in the container's own layer.
          rec.Mounts = mounts.filter((m) => m.Type !== 'volume');
          this.log.warn({ containerId: id }, 'no volumes extension: the image\'s VOLUMEs are kept in the container layer');
        }
      }
      mkdirSync(dir, { recursive: true, mode: 0o710 });
      this.store.save(rec);
      const c = new Container(rec, this.store.root);
      this.byId.set(id, c);
      this.emit(c, 'create');
      return { Id: id, Warnings: warnings };
    } catch (err) {
      this.names.release(name);
      if (volumesPrepared) await this.deps.volumes!.release(id, mounts.filter((m) => m.Type === 'volume'), { removeAnonymous: true }).catch(() => undefined);
      if (snapshotPrepared) await this.deps.rt.snapshots.remove(id, this.deps.snapshotter).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** `--volumes-from c[:ro|rw]`: the other container's volumes and binds, unless the destination is taken. */
  private volumesFrom(hc: HostConfig, existing: MountRecord[]): MountRecord[] {
    const out: MountRecord[] = [];
    for (const spec of hc.VolumesFrom ?? []) {
      const [ref = '', mode = ''] = spec.split(':');
      if (mode && !['ro', 'rw'].includes(mode)) throw new InvalidArgumentError(`invalid mode for volumes-from: ${mode}`);
      const other = this.get(ref);
      for (const m of other.rec.Mounts) {
        if (m.Type === 'tmpfs') continue;
        if (existing.some((e) => e.Destination === m.Destination) || out.some((e) => e.Destination === m.Destination)) continue;
        out.push({ ...m, RW: mode ? mode === 'rw' : m.RW, Anonymous: false });
      }
    }
    return out;
  }

  // ---- start -----------------------------------------------------------------------------------------------

  async start(ref: string, opts: { resetRestart?: boolean } = {}): Promise<void> {
    const c = this.get(ref);
    try {
      await this.startOnce(c, opts);
    } catch (err) {
      // dockerd removes an auto-remove container whose start failed (`docker run --rm` waits for that).
      if (c.rec.HostConfig.AutoRemove && !c.hasTask && !(err instanceof NotModifiedError) && !(err instanceof ConflictError)) {
        void this.remove(c.id, { force: true, volumes: true }).catch((e: unknown) => this.log.warn({ containerId: c.id, err: e }, 'auto-remove after a failed start failed'));
      }
      throw err;
    }
  }

  private async startOnce(c: Container, opts: { resetRestart?: boolean }): Promise<void> {
    await c.locked(async () => {
      c.assertNotRemoving();
      if (c.paused) throw new ConflictError('cannot start a paused container, try unpause instead');
      if (c.hasTask) throw new NotModifiedError(`container ${c.id} is already running`);
      if (c.restartTimer) {
        clearTimeout(c.restartTimer);
        c.restartTimer = undefined;
      }
      if (opts.resetRestart !== false) {
        c.rec.RestartCount = 0;
        this.backoff.delete(c.id);
      }
      c.rec.HasBeenManuallyStopped = false;
      await this.startLocked(c);
    });
  }

  /** Starts the task; the caller holds the container's lock. */
  private async startLocked(c: Container): Promise<void> {
    c.stopping = false;
    c.oomKilled = false;
    try {
      const { pid, exited } = await this.task.start(c);
      c.rec.State = {
        ...c.rec.State, Status: 'running', Pid: pid, ExitCode: 0, Error: '', OOMKilled: false, StartedAt: nowRfc3339Nano(),
        FinishedAt: c.rec.HasBeenStartedBefore ? c.rec.State.FinishedAt : c.rec.State.FinishedAt,
      };
      c.rec.HasBeenStartedBefore = true;
      this.store.save(c.rec);
      this.emit(c, 'start');
      this.watch(c, exited);
      for (const h of this.startedHooks) h(c);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      c.rec.State.Error = message;
      c.rec.State.ExitCode = /executable file not found|no such file or directory/.test(message) ? 127
        : /permission denied|is a directory/.test(message) ? 126 : 128;
      if (c.rec.HasBeenStartedBefore) {
        c.rec.State.Status = 'exited';
        c.rec.State.FinishedAt = nowRfc3339Nano();
      }
      c.rec.State.Pid = 0;
      this.store.save(c.rec);
      c.taskEnded();
      if (/executable file not found|no such file or directory|permission denied|is a directory/.test(message)) {
        throw new InvalidArgumentError(message, { cause: err });
      }
      throw err;
    }
  }

  /** Follows the task until it exits (tasks.wait, or the wait the start began), surviving runtimed restarts. */
  private watch(c: Container, first?: Promise<ExitStatus>): void {
    if (c.watching) return;
    c.watching = true;
    const loop = async () => {
      let delay = 200;
      let pending = first;
      for (;;) {
        try {
          const st = await (pending ?? this.deps.rt.tasks.wait(c.id));
          pending = undefined;
          this.log.debug({ containerId: c.id, exitStatus: st.exitStatus }, 'task exited');
          c.watching = false;
          await this.handleExit(c, st.exitStatus, fromTimestamp(st.exitedAt));
          return;
        } catch (err) {
          pending = undefined;
          if (this.closing) return;
          if (isNotFound(err)) {
            c.watching = false;
            this.log.warn({ containerId: c.id, err }, 'the container\'s task is gone');
            await this.handleExit(c, 255, undefined, 'the task of the container was lost');
            return;
          }
          if (!isUnavailable(err)) this.log.warn({ containerId: c.id, err }, 'waiting for the task failed; retrying');
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5000);
        }
      }
    };
    void loop();
  }

  /** The task ended: clean up, record, notify, then apply the restart policy or auto-remove. */
  private async handleExit(c: Container, exitCode: number, exitedAt: Date | undefined, error = ''): Promise<void> {
    if (!c.hasTask) return;
    // A kill by the OOM killer is announced as its own event, which may trail the exit a little.
    if (exitCode === 137 && !c.oomKilled && (c.rec.HostConfig.Memory ?? 0) > 0) await sleep(100);
    const finishedAt = exitedAt
      ? exitedAt.toISOString().replace(/\.(\d+)Z$/, (_m, f: string) => (f.replace(/0+$/, '') ? `.${f.replace(/0+$/, '')}Z` : 'Z'))
      : nowRfc3339Nano();
    // The exit is made durable before the task is deleted: a daemon killed in between finds the task gone after
    // its restart, and only this record still knows how the container ended (see ContainerTask.reconnect). An
    // auto-removed container needs no such record: the restore removes it either way.
    if (!c.rec.HostConfig.AutoRemove) this.store.save({ ...c.rec, State: { ...c.rec.State, ExitCode: exitCode, FinishedAt: finishedAt } });
    await this.task.cleanup(c);
    this.log.debug({ containerId: c.id }, 'task cleaned up');
    const oom = c.oomKilled;
    c.rec.State = {
      ...c.rec.State, Status: 'exited', Pid: 0, ExitCode: exitCode, Error: error, OOMKilled: oom,
      FinishedAt: finishedAt,
    };
    if (c.rec.State.Health) c.rec.State.Health = { ...c.rec.State.Health, Status: 'unhealthy' };
    const restart = !c.stopping && !this.closing && this.shouldRestart(c, exitCode);
    if (restart) c.rec.State.Status = 'restarting';
    const autoRemove = !restart && c.rec.HostConfig.AutoRemove === true && !this.closing;
    // An auto-removed container's record is about to go: no need to make this state durable first (after a
    // crash the restore sees the task gone and removes it all the same).
    if (!autoRemove) this.store.save(c.rec);
    for (const h of this.stoppedHooks) h(c);
    this.emit(c, 'die', { exitCode: String(exitCode), ...(oom ? {} : {}) });
    c.notifyExit({ exitCode });
    c.taskEnded();
    if (restart) {
      this.scheduleRestart(c);
    } else if (autoRemove) {
      await this.remove(c.id, { force: true, volumes: true }).catch((err: unknown) => {
        if (!isNotFound(err)) this.log.error({ containerId: c.id, err }, 'auto-remove failed');
      });
    }
  }

  private shouldRestart(c: Container, exitCode: number): boolean {
    const p = c.rec.HostConfig.RestartPolicy;
    switch (p?.Name) {
      case 'always':
        return true;
      case 'unless-stopped':
        return !c.rec.HasBeenManuallyStopped;
      case 'on-failure': {
        const max = p.MaximumRetryCount ?? 0;
        return exitCode !== 0 && (max === 0 || c.rec.RestartCount < max);
      }
      default:
        return false;
    }
  }

  /** Docker's backoff: 100 ms doubling up to a minute, reset after 10 s of running. */
  private scheduleRestart(c: Container): void {
    const ranMs = timeMs(c.rec.State.FinishedAt) - timeMs(c.rec.State.StartedAt);
    let delay = this.backoff.get(c.id) ?? 0;
    if (ranMs >= 10_000) delay = 0;
    delay = delay === 0 ? RESTART_BACKOFF_START_MS : Math.min(delay * 2, RESTART_BACKOFF_MAX_MS);
    this.backoff.set(c.id, delay);
    c.rec.RestartCount++;
    this.store.save(c.rec);
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined;
      void c.locked(async () => {
        if (c.status !== 'restarting' || c.removing) return;
        try {
          await this.startLocked(c);
          this.emit(c, 'restart');
        } catch (err) {
          this.log.warn({ containerId: c.id, err }, 'restart failed');
          c.rec.State.Status = 'exited';
          this.store.save(c.rec);
          if (this.shouldRestart(c, c.rec.State.ExitCode)) {
            c.rec.State.Status = 'restarting';
            this.scheduleRestart(c);
          }
        }
      });
    }, delay);
    c.restartTimer.unref();
  }

  // ---- stop / kill / restart / pause ------------------------------------------------------------------------

  /** Sends the stop signal, waits `timeout` seconds (the container's StopTimeout, else 10), then kills. */
  async stop(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const c = this.get(ref);
    await c.locked(() => this.stopLocked(c, opts));
  }

  private async stopLocked(c: Container, opts: { timeout?: number; signal?: string }): Promise<void> {
    c.rec.HasBeenManuallyStopped = true;
    if (c.restartTimer) {
      clearTimeout(c.restartTimer);
      c.restartTimer = undefined;
      c.rec.State.Status = 'exited';
      this.store.save(c.rec);
      this.emit(c, 'stop');
      return;
    }
    if (!c.hasTask) {
      this.store.save(c.rec);
      throw new NotModifiedError(`container ${c.id} is already stopped`);
    }
    this.store.save(c.rec);
    const sig = parseSignal(opts.signal || c.rec.Config.StopSignal, SIGTERM);
    const timeout = opts.timeout ?? c.rec.Config.StopTimeout ?? 10;
    c.stopping = true;
    const exited = c.nextExit();
    if (sig !== SIGKILL) {
      await this.signal(c, sig).catch((err: unknown) => this.log.debug({ containerId: c.id, err }, 'stop signal failed'));
      if (timeout < 0) {
        await exited;
        this.emit(c, 'stop');
        return;
      }
      const done = await Promise.race([exited.then(() => true), sleep(timeout * 1000).then(() => false)]);
      if (done) {
        this.emit(c, 'stop');
        return;
      }
    }
    await this.signal(c, SIGKILL, true).catch((err: unknown) => this.log.debug({ containerId: c.id, err }, 'kill failed'));
    const done = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!done) throw new ConflictError(`cannot stop container: ${c.id}: tried to kill container, but did not receive an exit event`);
    this.emit(c, 'stop');
  }

  /** Delivers a signal to the task (thawing it first when paused, so the signal takes effect). */
  private async signal(c: Container, sig: number, all = false): Promise<void> {
    this.emit(c, 'kill', { signal: String(sig) });
    await this.deps.rt.tasks.kill(c.id, sig, { all });
    if (c.paused && (sig === SIGKILL || sig === SIGTERM)) {
      await this.deps.rt.tasks.resume(c.id).catch(() => undefined);
    }
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const c = this.get(ref);
    const sig = parseSignal(signal, SIGKILL);
    await c.locked(async () => {
      if (!c.hasTask) throw new ConflictError(`Cannot kill container: ${ref}: Container ${c.id} is not running`);
      if (sig === SIGKILL) {
        const exited = c.nextExit();
        await this.signal(c, sig, true);
        await Promise.race([exited, sleep(30_000)]);
        return;
      }
      await this.signal(c, sig);
    });
  }

  async restart(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const c = this.get(ref);
    await c.locked(async () => {
      c.assertNotRemoving();
      if (c.hasTask || c.restartTimer) {
        try {
          await this.stopLocked(c, opts);
        } catch (err) {
          if (!(err instanceof NotModifiedError)) throw err;
        }
      }
      c.rec.HasBeenManuallyStopped = false;
      c.rec.RestartCount = 0;
      this.backoff.delete(c.id);
      await this.startLocked(c);
      this.emit(c, 'restart');
    });
  }

  async pause(ref: string): Promise<void> {
    const c = this.get(ref);
    await c.locked(async () => {
      if (!c.hasTask) throw new ConflictError(`Container ${c.id} is not running`);
      if (c.paused) throw new ConflictError(`Container ${c.id} is already paused`);
      await this.deps.rt.tasks.pause(c.id);
      c.rec.State.Status = 'paused';
      this.store.save(c.rec);
      this.emit(c, 'pause');
    });
  }

  async unpause(ref: string): Promise<void> {
    const c = this.get(ref);
    await c.locked(async () => {
      if (!c.paused) throw new ConflictError(`Container ${c.id} is not paused`);
      await this.deps.rt.tasks.resume(c.id);
      c.rec.State.Status = 'running';
      this.store.save(c.rec);
      this.emit(c, 'unpause');
    });
  }

  // ---- remove / rename / update ------------------------------------------------------------------------------

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c = this.get(ref);
    if (c.removing) throw new ConflictError(`removal of container ${c.id} is already in progress`);
    await c.locked(async () => {
      if (c.removed) throw new NotFoundError(`No such container: ${ref}`);
      if (c.removing) throw new ConflictError(`removal of container ${c.id} is already in progress`);
      if (c.hasTask || c.restartTimer) {
        if (!opts.force) {
          throw new ConflictError(`cannot remove container "${c.rec.Name}": container is ${c.paused ? 'paused' : 'running'}: stop the container before removing or force remove`);
        }
        c.stopping = true;
        if (c.restartTimer) {
          clearTimeout(c.restartTimer);
          c.restartTimer = undefined;
        }
        if (c.hasTask) {
          const exited = c.nextExit();
          await this.signal(c, SIGKILL, true).catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          });
          const done = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
          if (!done) throw new ConflictError(`cannot remove container "${c.rec.Name}": could not kill the running container`);
        }
      }
      c.removing = true;
      try {
        c.rec.State.Status = 'removing';
        const vols = c.rec.Mounts.filter((m) => m.Type === 'volume');
        await Promise.all([
          this.deps.networking.remove(c.view()).catch((err: unknown) => this.log.warn({ containerId: c.id, err }, 'network cleanup failed')),
          vols.length > 0 && this.deps.volumes
            ? this.deps.volumes.release(c.id, vols, { removeAnonymous: opts.volumes === true })
                .catch((err: unknown) => this.log.warn({ containerId: c.id, err }, 'volume release failed'))
            : undefined,
          this.task.forget(c),
        ]);
        await this.deps.rt.snapshots.remove(c.rec.SnapshotKey, c.rec.Snapshotter).catch((err: unknown) => {
          if (!isNotFound(err)) throw wrap(err, `remove the filesystem of container ${c.id}`);
        });
        this.store.remove(c.id);
        rmSync(path.join(this.deps.config.execRoot, 'containers', c.id), { recursive: true, force: true });
        this.names.release(c.rec.Name);
        this.byId.delete(c.id);
        this.backoff.delete(c.id);
        for (const h of this.stoppedHooks) h(c);
        this.emit(c, 'destroy');
        this.log.debug({ containerId: c.id }, 'removed');
        c.notifyRemoved();
      } catch (err) {
        c.removing = false;
        c.rec.State.Status = 'dead';
        c.rec.State.Error = err instanceof Error ? err.message : String(err);
        this.store.save(c.rec);
        throw err;
      }
    });
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.get(ref);
    if (!newName) throw new InvalidArgumentError('Neither old nor new names may be empty');
    await c.locked(async () => {
      const old = c.rec.Name;
      const target = newName.startsWith('/') ? newName : `/${newName}`;
      if (target === old) throw new InvalidArgumentError('Renaming a container with the same name as its current name');
      try {
        this.names.reserve(target, c.id);
      } catch (err) {
        throw new ConflictError(`Error when allocating new name: ${(err as Error).message}`);
      }
      c.rec.Name = target;
      try {
        this.store.save(c.rec);
      } catch (err) {
        c.rec.Name = old;
        this.names.release(target);
        throw err;
      }
      this.names.release(old);
      await this.deps.networking.renamed?.(c.view(), old.slice(1)).catch((err: unknown) => this.log.warn({ containerId: c.id, err }, 'network rename failed'));
      this.emit(c, 'rename', { oldName: old });
    });
  }

  /** `POST /containers/{id}/update`: resources and the restart policy; live for running tasks. */
  async update(ref: string, body: Resources & { RestartPolicy?: HostConfig['RestartPolicy'] }): Promise<string[]> {
    const c = this.get(ref);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('invalid JSON: expected an object');
    return c.locked(async () => {
      const next: HostConfig = { ...c.rec.HostConfig };
      const fields: (keyof Resources)[] = [
        'CpuShares', 'Memory', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetCpus',
        'CpusetMems', 'MemoryReservation', 'MemorySwap', 'KernelMemoryTCP', 'BlkioWeight', 'PidsLimit',
      ];
      for (const f of fields) {
        const v = body[f];
        if (v === undefined || v === null) continue;
        if (typeof v !== typeof (f.startsWith('Cpuset') ? '' : 0)) throw new InvalidArgumentError(`invalid JSON: ${f} has the wrong type`);
        if (v === 0 && f !== 'PidsLimit') continue; // 0 means "unchanged", as in dockerd
        (next as Record<string, unknown>)[f] = v;
      }
      if (body.NanoCpus) {
        next.CpuQuota = 0;
        next.CpuPeriod = 0;
      }
      if (body.Memory && !body.MemorySwap && (c.rec.HostConfig.MemorySwap ?? 0) > 0 && body.Memory > (c.rec.HostConfig.MemorySwap ?? 0)) {
        throw new InvalidArgumentError('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
      }
      if (body.RestartPolicy) {
        next.RestartPolicy = body.RestartPolicy;
        validateRestartPolicy(next);
        if (next.AutoRemove && next.RestartPolicy?.Name && next.RestartPolicy.Name !== 'no') {
          throw new InvalidArgumentError('Restart policy cannot be updated because AutoRemove is enabled for the container');
        }
      }
      validateResources(next);
      if (c.hasTask) await this.task.updateResources(c, next);
      c.rec.HostConfig = next;
      this.store.save(c.rec);
      this.emit(c, 'update');
      return [];
    });
  }

  // ---- wait --------------------------------------------------------------------------------------------------

  /** Docker's wait conditions; resolves with the exit code. */
  waitFor(ref: string, condition: WaitCondition): Promise<ExitInfo> {
    const c = this.get(ref);
    switch (condition) {
      case 'removed':
        return c.whenRemoved();
      case 'next-exit':
        return c.nextExit();
      case 'not-running':
      default:
        if (!c.running) {
          return Promise.resolve({ exitCode: c.rec.State.ExitCode, ...(c.rec.State.Error ? { error: c.rec.State.Error } : {}) });
        }
        return c.nextExit();
    }
  }

  // ---- restore / shutdown ------------------------------------------------------------------------------------

  /** Loads every record and reconciles it with runtimed's tasks (live restore), then applies restart policies. */
  async restore(): Promise<void> {
    const recs = this.store.loadAll(this.log);
    for (const rec of recs) {
      const c = new Container(rec, this.store.root);
      this.byId.set(rec.Id, c);
      try {
        this.names.reserve(rec.Name, rec.Id);
      } catch {
        this.log.error({ containerId: rec.Id, name: rec.Name }, 'duplicate container name on restore; renaming');
        c.rec.Name = this.names.generate(rec.Id);
        this.store.save(c.rec);
      }
    }
    await this.sweepOrphans().catch((err: unknown) => this.log.warn({ err }, 'sweeping orphaned runtime objects failed'));
    for (const c of this.byId.values()) {
      await this.deps.volumes?.restore?.(c.id, c.rec.Mounts.filter((m) => m.Type === 'volume')).catch((err: unknown) => this.log.warn({ containerId: c.id, err }, 'volume restore failed'));
    }
    for (const c of this.byId.values()) {
      await this.deps.networking.restore?.(c.view()).catch((err: unknown) => this.log.warn({ containerId: c.id, err }, 'network restore failed'));
    }
    const toRestart: Container[] = [];
    for (const c of this.byId.values()) {
      try {
        const alive = await this.task.reconnect(c);
        if (alive) {
          this.watch(c);
          for (const h of this.startedHooks) h(c);
          continue;
        }
        if (c.running) {
          // The task ended while we were away (its exit status, when runtimed knows it, was recorded by reconnect).
          c.rec.State.Status = 'exited';
          c.rec.State.Pid = 0;
          if (!c.rec.State.FinishedAt || c.rec.State.FinishedAt.startsWith('0001')) c.rec.State.FinishedAt = nowRfc3339Nano();
          this.store.save(c.rec);
          this.emit(c, 'die', { exitCode: String(c.rec.State.ExitCode) });
        }
        if (c.rec.HostConfig.AutoRemove && c.rec.HasBeenStartedBefore) {
          await this.remove(c.id, { force: true, volumes: true }).catch(() => undefined);
          continue;
        }
        const p = c.rec.HostConfig.RestartPolicy?.Name;
        if (c.rec.HasBeenStartedBefore && (p === 'always' || (p === 'unless-stopped' && !c.rec.HasBeenManuallyStopped)
          || (p === 'on-failure' && c.rec.State.ExitCode !== 0 && !c.rec.HasBeenManuallyStopped))) {
          toRestart.push(c);
        }
      } catch (err) {
        this.log.error({ containerId: c.id, err }, 'could not restore the container');
      }
    }
    for (const c of toRestart) {
      void c.locked(async () => {
        if (c.hasTask) return;
        try {
          await this.startLocked(c);
        } catch (err) {
          this.log.error({ containerId: c.id, err }, 'could not restart the container after the daemon restart');
        }
      });
    }
  }

  private oomAbort: AbortController | undefined;

  /** Follows runtimed's OOM events: the task that exits next was OOM-killed. */
  watchOom(): void {
    const ac = new AbortController();
    this.oomAbort = ac;
    const ns = this.deps.config.containerdNamespace;
    const loop = async () => {
      while (!ac.signal.aborted) {
        try {
          for await (const e of this.deps.rt.events.subscribe(['topic=="/tasks/oom"'], ac.signal)) {
            if (e.namespace && e.namespace !== ns) continue;
            const c = this.byId.get(String(e.event.containerId ?? ''));
            if (!c) continue;
            c.oomKilled = true;
            this.emit(c, 'oom');
          }
        } catch (err) {
          if (ac.signal.aborted) return;
          this.log.debug({ err }, 'event subscription ended; resubscribing');
        }
        await new Promise((r) => setTimeout(r, 1000).unref());
      }
    };
    void loop();
  }

  /**
   * What a crash in the middle of a create or a remove can leave in runtimed without a record here: the
   * container's snapshot (key = a container id, kept by its gc.root label) and runtime container records.
   */
  private async sweepOrphans(): Promise<void> {
    const rt = this.deps.rt;
    const isId = (k: string) => /^[0-9a-f]{64}$/.test(k);
    for (const snap of await rt.snapshots.list([], this.deps.snapshotter)) {
      if (snap.kind !== 'ACTIVE' || !isId(snap.name) || this.byId.has(snap.name) || !snap.labels['containerd.io/gc.root']) continue;
      this.log.warn({ containerId: snap.name }, 'removing the filesystem of a container that has no record (interrupted create or remove)');
      await rt.snapshots.remove(snap.name, this.deps.snapshotter).catch(() => undefined);
    }
    for (const rc of await rt.containers.list()) {
      if (!isId(rc.id) || this.byId.has(rc.id) || rc.labels['io.berth.engine'] !== 'berthd') continue;
      this.log.warn({ containerId: rc.id }, 'removing a runtime container that has no record');
      await this.task.forgetRuntime(rc.id);
    }
  }

  /** Daemon shutdown: containers keep running (live restore); timers and watches stop. */
  async shutdown(): Promise<void> {
    this.closing = true;
    this.oomAbort?.abort();
    for (const c of this.byId.values()) {
      if (c.restartTimer) clearTimeout(c.restartTimer);
      if (c.healthTimer) clearTimeout(c.healthTimer);
      c.taskEnded();
    }
  }

  // ---- events ------------------------------------------------------------------------------------------------

  emit(c: Container, action: string, extra: Record<string, string> = {}): void {
    this.deps.events.emit('container', action, c.id, {
      ...(c.rec.Config.Labels ?? {}),
      image: c.rec.ImageRef,
      name: c.name,
      ...extra,
    });
  }

  signalName(n: number): string {
    return signalName(n);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
