/**
 * Docker's shapes for containers: `GET /containers/{id}/json` (inspect) and `GET /containers/json` (summaries
 * with `ps`'s status text and filters).
 */
import path from 'node:path';
import type {
  ContainerInspect, ContainerState, ContainerSummary, MountPoint, NetworkSettings, Port,
} from '@berth/docker-api';
import { InvalidArgumentError } from '@berth/errdefs';
import { matchLabels, type Filters } from '../api/query.ts';
import type { Container } from './container.ts';
import { timeMs, ZERO_TIME, type MountRecord } from './record.ts';

/** go-units HumanDuration, as `docker ps` prints ages. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** `Up 5 seconds (healthy)`, `Exited (0) 2 minutes ago`, `Created`, … */
export function statusText(c: Container, now = Date.now()): string {
  const s = c.rec.State;
  const health = s.Health && s.Health.Status !== 'none'
    ? s.Health.Status === 'starting' ? ' (health: starting)' : ` (${s.Health.Status})` : '';
  switch (s.Status) {
    case 'running':
      return `Up ${humanDuration(now - timeMs(s.StartedAt))}${health}`;
    case 'paused':
      return `Up ${humanDuration(now - timeMs(s.StartedAt))} (Paused)`;
    case 'restarting':
      return `Restarting (${s.ExitCode}) ${humanDuration(now - timeMs(s.FinishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    case 'exited':
      if (timeMs(s.FinishedAt) === 0) return 'Created';
      return `Exited (${s.ExitCode}) ${humanDuration(now - timeMs(s.FinishedAt))} ago`;
  }
}

export function mountPoints(mounts: MountRecord[]): MountPoint[] {
  return mounts.map((m) => ({
    Type: m.Type,
    ...(m.Type === 'volume' ? { Name: m.Name ?? '' } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Type === 'volume' ? { Driver: m.Driver ?? 'local' } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  }));
}

export function stateOf(c: Container): ContainerState {
  const s = c.rec.State;
  return {
    Status: s.Status,
    Running: s.Status === 'running' || s.Status === 'paused',
    Paused: s.Status === 'paused',
    Restarting: s.Status === 'restarting',
    OOMKilled: s.OOMKilled,
    Dead: s.Status === 'dead',
    Pid: s.Pid,
    ExitCode: s.ExitCode,
    Error: s.Error,
    StartedAt: s.StartedAt || ZERO_TIME,
    FinishedAt: s.FinishedAt || ZERO_TIME,
    ...(s.Health ? { Health: s.Health } : {}),
  };
}

export function inspectOf(
  c: Container, network: NetworkSettings, graphDriverData: Record<string, string> | null, mountSources: Map<string, string>,
): ContainerInspect {
  const r = c.rec;
  return {
    Id: r.Id,
    Created: r.Created,
    Path: r.Path,
    Args: r.Args,
    State: stateOf(c),
    Image: r.Image,
    ResolvConfPath: path.join(c.dir, 'resolv.conf'),
    HostnamePath: path.join(c.dir, 'hostname'),
    HostsPath: path.join(c.dir, 'hosts'),
    LogPath: r.LogPath,
    Name: r.Name,
    RestartCount: r.RestartCount,
    Driver: r.Driver,
    Platform: r.Platform,
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: c.execIds.size > 0 ? [...c.execIds] : null,
    HostConfig: r.HostConfig,
    GraphDriver: { Name: r.Driver, Data: graphDriverData },
    Mounts: mountPoints(r.Mounts.map((m) => (mountSources.has(m.Destination) ? { ...m, Source: mountSources.get(m.Destination)! } : m))),
    Config: r.Config,
    NetworkSettings: network,
  };
}

/** `NetworkSettings.Ports` as `ps` lists them. */
export function portsOf(ns: NetworkSettings | undefined, exposed: Record<string, object> | undefined | null): Port[] {
  const out: Port[] = [];
  const seen = new Set<string>();
  for (const [key, bindings] of Object.entries(ns?.Ports ?? {})) {
    const [port = '0', proto = 'tcp'] = key.split('/');
    seen.add(key);
    if (!bindings || bindings.length === 0) {
      out.push({ PrivatePort: Number(port), Type: proto });
      continue;
    }
    for (const b of bindings) out.push({ IP: b.HostIp ?? '', PrivatePort: Number(port), PublicPort: Number(b.HostPort ?? 0), Type: proto });
  }
  for (const key of Object.keys(exposed ?? {})) {
    if (seen.has(key)) continue;
    const [port = '0', proto = 'tcp'] = key.split('/');
    out.push({ PrivatePort: Number(port), Type: proto });
  }
  return out;
}

export function summaryOf(c: Container, network: NetworkSettings, imageRef: string): ContainerSummary {
  const r = c.rec;
  return {
    Id: r.Id,
    Names: [r.Name],
    Image: imageRef,
    ImageID: r.Image,
    Command: r.Args.length > 0 ? `${r.Path} ${r.Args.join(' ')}` : r.Path,
    Created: Math.floor(timeMs(r.Created) / 1000),
    Ports: portsOf(network, r.Config.ExposedPorts),
    Labels: r.Config.Labels ?? {},
    State: r.State.Status,
    Status: statusText(c),
    HostConfig: { NetworkMode: r.HostConfig.NetworkMode ?? 'bridge', ...(r.HostConfig.Annotations ? { Annotations: r.HostConfig.Annotations } : {}) },
    NetworkSettings: { Networks: network.Networks },
    Mounts: mountPoints(r.Mounts),
  };
}

export const CONTAINER_FILTERS = [
  'id', 'name', 'label', 'exited', 'status', 'ancestor', 'before', 'since', 'volume', 'network', 'publish', 'expose',
  'health', 'isolation', 'is-task',
] as const;

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** Docker's `ps` filters; `ancestors(c)` lists the image names/ids a container descends from. */
export function matchContainer(
  c: Container, f: Filters, ctx: { network: NetworkSettings; ancestors: (c: Container) => string[]; before?: Container; since?: Container },
): boolean {
  const any = (key: string, test: (v: string) => boolean) => {
    const vs = f.get(key);
    return !vs || vs.length === 0 || vs.some(test);
  };
  const r = c.rec;
  for (const s of f.get('status') ?? []) if (!STATUSES.includes(s)) throw new InvalidArgumentError(`invalid filter 'status=${s}'`);
  for (const h of f.get('health') ?? []) if (!['starting', 'healthy', 'unhealthy', 'none'].includes(h)) throw new InvalidArgumentError(`unrecognized filter value for health: ${h}`);
  for (const e of f.get('exited') ?? []) if (!/^-?\d+$/.test(e)) throw new InvalidArgumentError(`invalid filter 'exited=${e}'`);
  const name = c.name;
  const ports = portsOf(ctx.network, r.Config.ExposedPorts);
  const portMatch = (v: string, published: boolean) => {
    const [p = '', proto = 'tcp'] = v.split('/');
    const [lo, hi] = p.includes('-') ? p.split('-').map(Number) as [number, number] : [Number(p), Number(p)];
    const inRange = (n: number | undefined) => n !== undefined && n >= lo && n <= hi;
    return ports.some((x) => x.Type === proto && (published ? inRange(x.PublicPort) : inRange(x.PrivatePort)));
  };
  return any('id', (v) => r.Id.startsWith(v))
    && any('name', (v) => new RegExp(v).test(name) || new RegExp(v).test(r.Name))
    && matchLabels(f.get('label'), r.Config.Labels)
    && any('exited', (v) => r.State.Status === 'exited' && r.State.ExitCode === Number(v))
    && any('status', (v) => r.State.Status === v)
    && any('health', (v) => (r.State.Health?.Status ?? 'none') === v)
    && any('ancestor', (v) => ctx.ancestors(c).includes(v))
    && (!ctx.before || timeMs(r.Created) < timeMs(ctx.before.rec.Created))
    && (!ctx.since || timeMs(r.Created) > timeMs(ctx.since.rec.Created))
    && any('volume', (v) => r.Mounts.some((m) => m.Name === v || m.Destination === v || m.Source === v))
    && any('network', (v) => Object.entries(ctx.network.Networks ?? {}).some(([n, ep]) => n === v || ep.NetworkID === v || (v.length >= 3 && (ep.NetworkID ?? '').startsWith(v))))
    && any('publish', (v) => portMatch(v, true))
    && any('expose', (v) => portMatch(v, false))
    && any('isolation', (v) => v === 'default' || v === '')
    && any('is-task', (v) => v === 'false');
}
