/**
 * The engine's `Networking` on @berth/network: bridge networks (the default `bridge` and user-defined ones),
 * `none`, `host` and `container:<id>`, with published ports and the embedded DNS. A container's stack exists
 * while its task runs (attach before the task is created, detach once it is gone), as Docker allocates
 * addresses at start and frees them at stop.
 */
import { hostname as osHostname } from 'node:os';
import type { ContainerConfig, EndpointSettings, HostConfig, NetworkSettings } from '@berth/docker-api';
import { ConflictError, FailedPreconditionError, InvalidArgumentError } from '@berth/errdefs';
import type { EndpointRequest, NetworkManager, SandboxInfo, SandboxSpec } from '@berth/network';
import type { ContainerView, ExtensionHost, NetworkAttachment, Networking } from '../extensions.ts';
import type { ContainerNetworks } from './container-networks.ts';
import { isSpecialMode, modeOf } from './container-networks.ts';
import { derivedId, networkSettings } from './views.ts';

export class BridgeNetworking implements Networking {
  private readonly host: ExtensionHost;
  readonly manager: NetworkManager;
  readonly configs: ContainerNetworks;
  private restored = false;

  constructor(host: ExtensionHost, manager: NetworkManager, configs: ContainerNetworks) {
    this.host = host;
    this.manager = manager;
    this.configs = configs;
  }

  async validate(req: {
    id: string; name: string; config: ContainerConfig; hostConfig: HostConfig; endpointsConfig: Record<string, EndpointSettings>;
  }): Promise<void> {
    const hc = req.hostConfig;
    const mode = modeOf(hc.NetworkMode);
    // Docker records the default mode by its network's name.
    if (mode === 'bridge') hc.NetworkMode = 'bridge';
    if (mode.startsWith('container:')) {
      const ref = mode.slice('container:'.length);
      if (!ref) throw new InvalidArgumentError('invalid network mode: container: needs a container name or id');
      const other = this.host.container(ref);
      if (other.id === req.id) throw new InvalidArgumentError('cannot join own network namespace');
      hc.NetworkMode = `container:${other.id}`;
      if (req.config.Hostname) throw new InvalidArgumentError('conflicting options: hostname and the network mode');
      if (hc.Dns?.length || hc.DnsSearch?.length || hc.DnsOptions?.length) throw new InvalidArgumentError('conflicting options: dns and the network mode');
      if (hc.ExtraHosts?.length) throw new InvalidArgumentError('conflicting options: custom host-to-IP mapping and the network mode');
      if (hasBindings(hc) || hc.PublishAllPorts) throw new InvalidArgumentError('conflicting options: port publishing and the container type network mode');
      if (Object.keys(req.endpointsConfig).length) throw new InvalidArgumentError('conflicting options: networking configuration and the container type network mode');
      return;
    }
    if (mode === 'host') {
      if (!req.config.Hostname) req.config.Hostname = osHostname();
      if (Object.keys(req.endpointsConfig).some((k) => k !== 'host')) {
        throw new InvalidArgumentError('container cannot be connected to host network along with other networks');
      }
      return;
    }
    if (mode === 'none') {
      if (Object.keys(req.endpointsConfig).some((k) => k !== 'none')) {
        throw new InvalidArgumentError('container sharing network namespace with another container or host cannot be connected to any other network');
      }
      return;
    }
    const primary = this.manager.get(mode);
    if (primary.driver !== 'bridge') throw new InvalidArgumentError(`network ${mode} cannot be used as a container network mode`);
    for (const [key, s] of Object.entries(req.endpointsConfig)) {
      const net = this.manager.get(key);
      if (net.driver !== 'bridge') throw new InvalidArgumentError(`container cannot be connected to network ${net.name} along with other networks`);
      if (net.bridge?.isDefault && s?.Aliases?.length) {
        throw new InvalidArgumentError('network-scoped alias is supported only for containers in user defined networks');
      }
      if (net.bridge?.isDefault && s?.IPAMConfig?.IPv4Address) {
        throw new InvalidArgumentError('user specified IP address is supported on user defined networks only');
      }
    }
  }

  async attach(c: ContainerView): Promise<NetworkAttachment> {
    await this.firstRestore();
    // A stack left from a previous run (a crash between the task's end and detach) goes first.
    if (this.manager.sandbox(c.id)) await this.manager.releaseSandbox(c.id);
    const mode = modeOf(c.hostConfig.NetworkMode);
    const hostname = c.config.Hostname || (mode === 'host' ? osHostname() : c.id.slice(0, 12));
    const configured = this.configs.configured(c);
    const endpoints: Record<string, EndpointRequest> = {};
    for (const [name, s] of Object.entries(configured)) endpoints[name] = endpointRequest(s, c);
    const spec: SandboxSpec = {
      containerId: c.id,
      containerName: c.name,
      hostname,
      ...(c.config.Domainname ? { domainname: c.config.Domainname } : {}),
      networkMode: mode,
      endpoints,
      dns: c.hostConfig.Dns ?? [],
      dnsSearch: (c.hostConfig.DnsSearch ?? []).filter((s) => s !== '.'),
      dnsOptions: c.hostConfig.DnsOptions ?? [],
      extraHosts: c.hostConfig.ExtraHosts ?? [],
      portBindings: toBindings(c.hostConfig.PortBindings),
      publishAllPorts: !!c.hostConfig.PublishAllPorts,
      exposedPorts: Object.keys(c.config.ExposedPorts ?? {}),
      links: this.links(c),
      filesDir: c.dir,
    };
    if (mode.startsWith('container:')) {
      const other = this.host.container(mode.slice('container:'.length));
      if (!other.running || !this.manager.sandbox(other.id)) {
        throw new FailedPreconditionError(`cannot join network namespace of a non running container: container ${other.id} is not running`);
      }
      spec.networkMode = `container:${other.id}`;
    }
    const sb: SandboxInfo = await this.manager.createSandbox(spec);
    for (const ep of sb.endpoints) {
      const net = this.manager.get(ep.networkId);
      this.host.events.emit('network', 'connect', net.id, { container: c.id, name: net.name, type: net.driver });
    }
    const owner = sb.mode === 'container' && sb.sharedWith ? this.host.container(sb.sharedWith) : undefined;
    return {
      netns: sb.netnsPath ? { path: sb.netnsPath } : 'host',
      hostname: owner ? owner.config.Hostname || owner.id.slice(0, 12) : hostname,
      domainname: owner ? owner.config.Domainname ?? '' : c.config.Domainname ?? '',
      hostsPath: sb.hostsPath,
      resolvConfPath: sb.resolvConfPath,
      hostnamePath: sb.hostnamePath,
    };
  }

  async detach(c: ContainerView): Promise<void> {
    const sb = this.manager.sandbox(c.id);
    if (!sb) return;
    await this.manager.releaseSandbox(c.id);
    for (const ep of sb.endpoints) {
      const net = this.manager.list().find((n) => n.id === ep.networkId);
      if (net) this.host.events.emit('network', 'disconnect', net.id, { container: c.id, name: net.name, type: net.driver });
    }
  }

  async remove(c: ContainerView): Promise<void> {
    await this.detach(c);
    this.configs.forget(c.id);
  }

  async renamed(c: ContainerView): Promise<void> {
    await this.manager.rename(c.id, c.name);
  }

  async restore(c: ContainerView): Promise<void> {
    await this.firstRestore();
    if (!c.running) await this.detach(c);
  }

  settings(c: ContainerView): NetworkSettings {
    const mode = modeOf(c.hostConfig.NetworkMode);
    const sb = c.running ? this.manager.sandbox(c.id) : undefined;
    const byId = new Map(this.manager.listShared().map((n) => [n.id, n]));
    let configured: Record<string, EndpointSettings>;
    if (mode.startsWith('container:')) configured = {};
    else if (isSpecialMode(mode)) configured = { [mode]: c.endpointsConfig[mode] ?? {} };
    else {
      // Keyed by network name (a network may have been given by id).
      configured = {};
      for (const [key, s] of Object.entries(this.configs.configured(c))) {
        const net = byId.get(key) ?? [...byId.values()].find((n) => n.name === key);
        configured[net?.name ?? key] = s;
      }
    }
    const settings = networkSettings({
      configured,
      sandbox: sb,
      network: (id) => byId.get(id),
      networkId: (name) => [...byId.values()].find((n) => n.name === name)?.id,
      exposedPorts: Object.keys(c.config.ExposedPorts ?? {}),
      containerId: c.id,
    });
    if (sb && (mode === 'host' || mode === 'none') && settings.Networks[mode]) {
      settings.Networks[mode]!.EndpointID = derivedId(`${mode}-${c.id}`);
    }
    return settings;
  }

  /** `docker network connect` on a container, running or not. */
  async connect(c: ContainerView, network: string, s: EndpointSettings): Promise<void> {
    const net = this.manager.get(network);
    const mode = modeOf(c.hostConfig.NetworkMode);
    if (mode === 'host' || net.driver === 'host') throw new FailedPreconditionError('container cannot be disconnected from host network or connected to host network');
    if (isSpecialMode(mode) || net.driver !== 'bridge') {
      throw new FailedPreconditionError('container sharing network namespace with another container or host cannot be connected to any other network');
    }
    if (net.bridge?.isDefault && s.Aliases?.length) throw new InvalidArgumentError('network-scoped alias is supported only for containers in user defined networks');
    const already = Object.keys(this.configs.configured(c)).some((k) => k === net.name || k === net.id);
    if (c.running && this.manager.sandbox(c.id)) {
      await this.manager.connect(c.id, net.id, endpointRequest(s, c));
      this.host.events.emit('network', 'connect', net.id, { container: c.id, name: net.name, type: net.driver });
    } else if (already) {
      throw new ConflictError(`endpoint with name ${c.name} already exists in network ${net.name}`);
    }
    this.configs.connected(c, net.name, s);
  }

  /** `docker network disconnect`. */
  async disconnect(c: ContainerView, network: string): Promise<void> {
    const net = this.manager.get(network);
    const mode = modeOf(c.hostConfig.NetworkMode);
    if (mode === 'host' || net.driver === 'host') throw new FailedPreconditionError('container cannot be disconnected from host network or connected to host network');
    const configuredNames = Object.keys(this.configs.configured(c));
    const isConfigured = configuredNames.includes(net.name) || configuredNames.includes(net.id);
    const live = c.running && this.manager.sandbox(c.id)?.endpoints.some((e) => e.networkId === net.id);
    if (!isConfigured && !live) throw new FailedPreconditionError(`container ${c.id} is not connected to network ${net.name}`);
    if (live) {
      await this.manager.disconnect(c.id, net.id);
      this.host.events.emit('network', 'disconnect', net.id, { container: c.id, name: net.name, type: net.driver });
    }
    this.configs.disconnected(c, net.name);
    for (const k of configuredNames) if (k === net.id) this.configs.disconnected(c, k);
  }

  /** Legacy `--link other:alias` on the default bridge. */
  private links(c: ContainerView): { containerId: string; alias: string }[] {
    const out: { containerId: string; alias: string }[] = [];
    for (const l of c.hostConfig.Links ?? []) {
      const [target = '', aliasPath = ''] = l.split(':');
      try {
        const other = this.host.container(target.replace(/^\//, ''));
        out.push({ containerId: other.id, alias: aliasPath.split('/').pop() || other.name });
      } catch { /* a link to a removed container is ignored */ }
    }
    return out;
  }

  /** Once after a daemon restart: stacks of containers that no longer exist are released. */
  private async firstRestore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    const known = new Set(this.host.containers().filter((x) => x.running).map((x) => x.id));
    for (const id of this.manager.sandboxIds()) if (!known.has(id)) await this.manager.releaseSandbox(id);
  }
}

function hasBindings(hc: HostConfig): boolean {
  return Object.values(hc.PortBindings ?? {}).some((b) => (b ?? []).length > 0);
}

function toBindings(pb: HostConfig['PortBindings']): SandboxSpec['portBindings'] {
  const out: NonNullable<SandboxSpec['portBindings']> = {};
  for (const [k, list] of Object.entries(pb ?? {})) out[k] = (list ?? []).map((b) => ({ hostIp: b.HostIp ?? '', hostPort: b.HostPort ?? '' }));
  return out;
}

function endpointRequest(s: EndpointSettings | undefined, c: ContainerView): EndpointRequest {
  const mac = s?.MacAddress || (c.config as { MacAddress?: string }).MacAddress;
  return {
    ...(s?.Aliases?.length ? { aliases: s.Aliases } : {}),
    ...(s?.IPAMConfig?.IPv4Address ? { ipv4Address: s.IPAMConfig.IPv4Address } : {}),
    ...(mac ? { macAddress: mac } : {}),
  };
}
