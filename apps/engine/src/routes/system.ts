/** System endpoints: `_ping`, `version`, `info`, `events`, `system/df`, `plugins`, `auth`. */
import { readdirSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { SystemInfo } from '@berth/docker-api';
import { NotFoundError } from '@berth/errdefs';
import { parseFilters, qs, queryOf, readJsonObject, registryAuth } from '../api/query.ts';
import { API_VERSION, MIN_API_VERSION } from '../api/version.ts';
import { ENGINE_VERSION, type Engine } from '../engine.ts';
import { listContainers } from '../containers/views.ts';
import { matchEvent, parseEventTime } from '../system/events.ts';

const BUILD_TIME = new Date().toISOString();

export function systemRoutes(app: FastifyInstance, engine: Engine): void {
  const ping = (_req: unknown, reply: FastifyReply) => {
    void reply
      .header('Builder-Version', '1')
      .header('Swarm', 'inactive')
      .header('Cache-Control', 'no-cache, no-store, must-revalidate')
      .header('Pragma', 'no-cache')
      .type('text/plain; charset=utf-8')
      .send('OK');
  };
  app.get('/_ping', { exposeHeadRoute: false }, ping);
  app.head('/_ping', (_req, reply) => {
    void reply
      .header('Builder-Version', '1')
      .header('Swarm', 'inactive')
      .header('Cache-Control', 'no-cache, no-store, must-revalidate')
      .header('Pragma', 'no-cache')
      .type('text/plain; charset=utf-8')
      .header('Content-Length', '0')
      .send();
  });

  app.get('/version', async () => {
    const h = engine.host;
    const details = {
      ApiVersion: API_VERSION, Arch: 'amd64', BuildTime: BUILD_TIME, Experimental: String(engine.config.experimental),
      GitCommit: '', GoVersion: `node ${process.version}`, KernelVersion: h.kernelVersion, MinAPIVersion: MIN_API_VERSION, Os: 'linux',
    };
    return {
      Platform: { Name: 'berth' },
      Components: [
        { Name: 'Engine', Version: ENGINE_VERSION, Details: details },
        { Name: 'berth-runtimed', Version: engine.runtimedVersion, Details: { GitCommit: '' } },
        { Name: 'berth-runc', Version: ENGINE_VERSION, Details: { GitCommit: '' } },
      ],
      Version: ENGINE_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: 'amd64',
      KernelVersion: h.kernelVersion,
      BuildTime: BUILD_TIME,
    };
  });

  app.get('/info', async (): Promise<SystemInfo> => {
    const cs = engine.containers.list();
    const running = cs.filter((c) => c.rec.State.Status === 'running' || c.rec.State.Status === 'restarting').length;
    const paused = cs.filter((c) => c.paused).length;
    let images = 0;
    try {
      images = (await engine.images.store.list()).length;
    } catch (err) {
      engine.log.warn({ err }, 'info: listing images failed');
    }
    const h = engine.host;
    const cfg = engine.config;
    let nfd = 0;
    try {
      nfd = readdirSync('/proc/self/fd').length;
    } catch {
      // not Linux
    }
    const insecure = ['::1/128', '127.0.0.0/8'];
    const indexConfigs: NonNullable<SystemInfo['RegistryConfig']>['IndexConfigs'] = {
      'docker.io': { Name: 'docker.io', Mirrors: cfg.registryMirrors.map((m) => (m.endsWith('/') ? m : `${m}/`)), Secure: true, Official: true },
    };
    for (const r of cfg.insecureRegistries) {
      if (/\/\d+$/.test(r)) insecure.push(r);
      else indexConfigs[r] = { Name: r, Mirrors: [], Secure: false, Official: false };
    }
    return {
      ID: engine.id,
      Containers: cs.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: cs.length - running - paused,
      Images: images,
      Driver: engine.snapshotter === 'native' ? 'vfs' : 'overlay2',
      DriverStatus: engine.snapshotter === 'native' ? [] : [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true'], ['Using metacopy', 'false'], ['Native Overlay Diff', 'true'], ['userxattr', 'false']],
      DockerRootDir: cfg.dataRoot,
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file', 'local', 'none'] },
      MemoryLimit: true,
      SwapLimit: h.swapLimit,
      KernelMemoryTCP: h.cgroupVersion === '1',
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: h.cgroupVersion === '1',
      IPv4Forwarding: h.ipv4Forwarding,
      BridgeNfIptables: h.bridgeNfIptables,
      BridgeNfIp6tables: h.bridgeNfIptables,
      Debug: cfg.logLevel === 'debug' || cfg.logLevel === 'trace',
      NFd: nfd,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: cfg.logDriver,
      CgroupDriver: 'cgroupfs',
      CgroupVersion: h.cgroupVersion,
      NEventsListener: engine.events.listeners,
      KernelVersion: h.kernelVersion,
      OperatingSystem: h.operatingSystem,
      OSVersion: h.osVersion,
      OSType: 'linux',
      Architecture: h.architecture,
      NCPU: h.ncpu,
      MemTotal: h.memTotal,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { InsecureRegistryCIDRs: insecure, IndexConfigs: indexConfigs, Mirrors: cfg.registryMirrors.map((m) => (m.endsWith('/') ? m : `${m}/`)) },
      GenericResources: null,
      HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
      HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
      NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
      Name: h.hostname,
      Labels: cfg.labels,
      ExperimentalBuild: cfg.experimental,
      ServerVersion: ENGINE_VERSION,
      Runtimes: { 'runc': { path: 'berth-runc' }, 'io.containerd.runc.v2': { path: 'berth-runc' } },
      DefaultRuntime: 'runc',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: cfg.liveRestore,
      Isolation: '',
      InitBinary: 'docker-init',
      ContainerdCommit: { ID: engine.runtimedVersion },
      RuncCommit: { ID: ENGINE_VERSION },
      InitCommit: { ID: 'tini' },
      SecurityOptions: ['name=seccomp,profile=builtin', ...(h.cgroupVersion === '2' ? ['name=cgroupns'] : [])],
      DefaultAddressPools: cfg.defaultAddressPools.map((p) => ({ Base: p.base, Size: p.size })),
      Warnings: [
        ...(h.bridgeNfIptables ? [] : []),
        ...cfg.hosts.filter((x) => x.startsWith('tcp://') && !cfg.tlsVerify).map((x) => `WARNING: API is accessible on ${x} without encryption.`),
      ],
      Containerd: { Address: cfg.containerd || `${cfg.execRoot}/runtimed.sock`, Namespaces: { Containers: cfg.containerdNamespace, Plugins: 'plugins.berth' } },
    };
  });

  // Streaming events: past ones from `since`, then live ones until `until` (or the client leaves).
  app.get('/events', async (request, reply) => {
    const q = queryOf(request);
    const filters = parseFilters(qs(q, 'filters'));
    const since = parseEventTime(qs(q, 'since'));
    const until = parseEventTime(qs(q, 'until'));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION, 'Ostype': 'linux' });
    res.flushHeaders();
    for (const e of engine.events.past(since, until, filters)) res.write(JSON.stringify(e) + '\n');
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    if (until !== undefined && until <= nowNs) {
      res.end();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const unsubscribe = engine.events.subscribe((e) => {
      if (until !== undefined && BigInt(e.timeNano) > until) return;
      if (matchEvent(e, filters)) res.write(JSON.stringify(e) + '\n');
    });
    const end = () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    if (until !== undefined) timer = setTimeout(end, Number((until - nowNs) / 1_000_000n) + 1);
    res.on('close', end);
  });

  app.get('/system/df', async (request) => {
    const q = queryOf(request);
    const types = new Set([...(Array.isArray(q.type) ? q.type : q.type ? [q.type] : [])]);
    const want = (t: string) => types.size === 0 || types.has(t);
    const out: Record<string, unknown> = {};
    if (want('image')) {
      const usage = await engine.images.diskUsage();
      out.LayersSize = usage.layersSize;
      out.Images = usage.images;
    }
    if (want('container')) out.Containers = await listContainers(engine, { all: true, size: true });
    if (want('volume')) out.Volumes = (await engine.volumes?.usage?.()) ?? [];
    if (want('build-cache')) out.BuildCache = [];
    return out;
  });

  // The classic builder keeps no cache of its own beyond images: nothing to prune.
  app.post('/build/prune', async () => ({ CachesDeleted: null, SpaceReclaimed: 0 }));

  app.get('/plugins', async () => []);
  app.get('/plugins/*', async (request) => {
    const name = (request.params as Record<string, string>)['*']!.replace(/\/json$/, '');
    throw new NotFoundError(`plugin "${name}" not found`);
  });

  app.post('/auth', async (request) => {
    const body = await readJsonObject<Record<string, string>>(request);
    return engine.archives.login(body as Record<string, string>);
  });

  app.get('/distribution/*', async (request) => {
    const name = (request.params as Record<string, string>)['*']!.replace(/\/json$/, '');
    return engine.archives.distributionInspect(name, registryAuth(request));
  });
}
