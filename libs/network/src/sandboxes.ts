// Sandboxes: one container's network stack. Plans (addresses, names, interface names) are made synchronously
// against the registry so concurrent operations never collide; the kernel work follows, and a failure undoes
// everything the operation did (addresses, ports, veths, namespace, records).
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError, wrap } from '@berth/errdefs';
import { formatIp4, parseIp4 } from './ipv4.ts';
import { deleteLinks, macAddress, vethName } from './iproute.ts';
import type { DirectDelivery, DirectPort } from './direct-delivery.ts';
import type { Firewall } from './firewall.ts';
import type { Logger } from './logger.ts';
import { newId } from './network-config.ts';
import type { NetnsDir } from './netns.ts';
import { changeNamespace, createNamespace, type Plug, type PlumbingChange } from './plumbing.ts';
import { portRequests, type PortRequest } from './port-mapping.ts';
import { startProxy, type PortProxy } from './port-proxy.ts';
import type { Registry } from './registry.ts';
import type { ResolvConf } from './resolv-conf.ts';
import { writeSandboxFiles } from './sandbox-files.ts';
import type { NetworkStore } from './store.ts';
import type { EndpointRecord, EndpointRequest, NetworkRecord, PortMapping, SandboxInfo, SandboxRecord, SandboxSpec } from './types.ts';
import { KeyedQueue } from './rule-sync.ts';

export interface SandboxDeps {
  reg: Registry;
  store: NetworkStore;
  netns: NetnsDir;
  firewall: Firewall;
  log: Logger;
  hostResolv: () => ResolvConf;
  hostsPath: string;
  daemonDns: { dns: string[]; dnsSearch: string[]; dnsOptions: string[] };
  /** No userland proxy: published ports are DNATed back into the bridge (hairpin mode on its ports). */
  hairpin: boolean;
  direct: DirectDelivery;
}

export class Sandboxes {
  private readonly d: SandboxDeps;
  private readonly proxies = new Map<string, PortProxy[]>();
  private readonly queue = new KeyedQueue();

  constructor(deps: SandboxDeps) {
    this.d = deps;
  }

  /** Operations on one container run one after another. */
  serialize<T>(containerId: string, task: () => Promise<T>): Promise<T> {
    return this.queue.run(containerId, task);
  }

  info(sb: SandboxRecord): SandboxInfo {
    const owner = sb.mode === 'container' && sb.sharedWith ? this.d.reg.sandboxes.get(sb.sharedWith) : undefined;
    const gw = this.d.reg.gatewayEndpoint(owner ?? sb);
    return { ...structuredClone(sb), ...(gw ? { gatewayEndpointId: gw.id } : {}) };
  }

  async create(spec: SandboxSpec): Promise<SandboxInfo> {
    const { reg } = this.d;
    if (reg.sandboxes.has(spec.containerId)) throw new ConflictError(`container ${spec.containerId} already has a network sandbox`);
    const mode = spec.networkMode || 'default';
    const sb = this.baseRecord(spec);
    const special = mode === 'host' || mode === 'none' || mode.startsWith('container:');
    if (special && mode !== 'host' && spec.portBindings && Object.values(spec.portBindings).some((b) => b?.length)) {
      throw new InvalidArgumentError(`conflicting options: port publishing and the container type network mode (${mode})`);
    }
    if (mode === 'host') {
      sb.mode = 'host';
      sb.exposedPorts = portRequests(undefined, false, spec.exposedPorts ?? [], '0.0.0.0').exposed;
      this.writeFiles(sb);
      this.commit(sb);
      return this.info(sb);
    }
    if (mode.startsWith('container:')) return this.createShared(sb, mode.slice('container:'.length));
    sb.netnsPath = this.d.netns.path(spec.containerId);
    if (mode === 'none') {
      sb.mode = 'none';
      sb.exposedPorts = portRequests(undefined, false, spec.exposedPorts ?? [], '0.0.0.0').exposed;
      try {
        await createNamespace(this.d.netns.prepare(spec.containerId), {}, this.restoreCmd);
        this.writeFiles(sb);
        this.commit(sb);
      } catch (err) {
        reg.unregister(sb);
        await this.d.netns.remove(sb.netnsPath).catch(() => {});
        throw wrap(err, `create network sandbox for container ${spec.containerId}`);
      }
      return this.info(sb);
    }
    return this.createBridged(sb, spec, mode);
  }

  private baseRecord(spec: SandboxSpec): SandboxRecord {
    return {
      containerId: spec.containerId,
      containerName: spec.containerName.replace(/^\//, ''),
      hostname: spec.hostname,
      ...(spec.domainname ? { domainname: spec.domainname } : {}),
      mode: 'bridge',
      hostsPath: path.join(spec.filesDir, 'hosts'),
      resolvConfPath: path.join(spec.filesDir, 'resolv.conf'),
      hostnamePath: path.join(spec.filesDir, 'hostname'),
      dns: spec.dns ?? [],
      dnsSearch: spec.dnsSearch ?? [],
      dnsOptions: spec.dnsOptions ?? [],
      extraHosts: (spec.extraHosts ?? []).map((h) => this.parseExtraHost(h)),
      links: spec.links ?? [],
      embeddedDns: false,
      endpoints: [],
      ports: [],
      exposedPorts: [],
      created: new Date().toISOString(),
    };
  }

  private createShared(sb: SandboxRecord, ownerId: string): SandboxInfo {
    const other = this.d.reg.sandboxes.get(ownerId);
    if (!other) throw new FailedPreconditionError(`cannot join network of a non running container: ${ownerId}`);
    const owner = other.mode === 'container' ? this.d.reg.sandboxes.get(other.sharedWith!)! : other;
    Object.assign(sb, {
      mode: 'container', sharedWith: owner.containerId, hostsPath: owner.hostsPath, resolvConfPath: owner.resolvConfPath,
      hostnamePath: owner.hostnamePath, ...(owner.netnsPath ? { netnsPath: owner.netnsPath } : {}),
    });
    this.commit(sb);
    return this.info(sb);
  }

  private async createBridged(sb: SandboxRecord, spec: SandboxSpec, mode: string): Promise<SandboxInfo> {
    const { reg } = this.d;
    // The mode's network first, then the other requested ones.
    const primary = reg.find(mode === 'default' ? 'bridge' : mode);
    const requested = new Map<string, EndpointRequest>([[primary.id, {}]]);
    for (const [key, req] of Object.entries(spec.endpoints ?? {})) {
      const net = reg.find(key);
      requested.set(net.id, { ...(requested.get(net.id) ?? {}), ...req });
    }
    for (const id of requested.keys()) {
      const net = reg.network(id);
      if (net.driver !== 'bridge') throw new InvalidArgumentError(`container cannot be connected to network ${net.name} along with other networks`);
    }
    const allocated: EndpointRecord[] = [];
    let proxies: PortProxy[] = [];
    let direct = false;
    try {
      let i = 0;
      for (const [id, req] of requested) allocated.push(this.planEndpoint(sb, reg.network(id), req, `eth${i++}`));
      sb.endpoints = allocated;
      sb.embeddedDns = allocated.some((ep) => !reg.network(ep.networkId).bridge!.isDefault);
      const gw = reg.gatewayEndpoint(sb);
      const dnsEp = sb.embeddedDns ? reg.dnsEndpoint(sb) : undefined;
      if (dnsEp) sb.dnsNetworkId = dnsEp.networkId;
      const hostIp = gw ? reg.network(gw.networkId).bridge!.hostBindingIp : '0.0.0.0';
      const { exposed, requests } = portRequests(spec.portBindings ?? undefined, !!spec.publishAllPorts, spec.exposedPorts ?? [], hostIp);
      sb.exposedPorts = exposed;
      reg.register(sb);
      if (gw && requests.length) {
        proxies = await this.bindPorts(sb, requests);
        sb.ports = proxies.map((p, k) => ({
          proto: p.proto, containerPort: requests[k]!.containerPort, hostIp: p.hostIp, hostPort: p.hostPort,
        }));
        this.proxies.set(sb.containerId, proxies);
      }
      await createNamespace(this.d.netns.prepare(spec.containerId), {
        plug: allocated.map((ep) => this.plugOf(ep)),
        defaultRoute: gw ? { gateway: gw.gateway, dev: gw.ifname } : undefined,
        ...(dnsEp ? { dns: this.dnsTarget(dnsEp) } : {}),
      }, this.restoreCmd);
      this.d.direct.attach(allocated.map((ep) => this.directOf(ep)));
      direct = true;
      this.writeFiles(sb);
      this.d.store.saveSandbox(sb);
      if (sb.ports.length) await this.d.firewall.updatePorts();
    } catch (err) {
      reg.unregister(sb);
      this.proxies.delete(sb.containerId);
      await Promise.all(proxies.map((p) => p.close()));
      if (direct) await this.d.direct.detach(allocated.map((ep) => this.directOf(ep)));
      await deleteLinks(allocated.map((ep) => ep.hostIf)).catch(() => {});
      for (const ep of allocated) reg.pools.get(ep.networkId)?.release(parseIp4(ep.ip));
      await this.d.netns.remove(sb.netnsPath!).catch(() => {});
      this.d.store.deleteSandbox(sb.containerId);
      if (sb.ports.length) await this.d.firewall.updatePorts().catch(() => {});
      throw wrap(err, `create network sandbox for container ${spec.containerId}`);
    }
    this.d.log.info({ containerId: sb.containerId, addresses: sb.endpoints.map((e) => e.ip), ports: sb.ports.length }, 'network sandbox created');
    return this.info(sb);
  }

  async release(containerId: string): Promise<void> {
    const { reg } = this.d;
    const sb = reg.sandboxes.get(containerId);
    if (!sb) return;
    reg.unregister(sb);
    await this.closeProxies(containerId);
    if (sb.mode === 'bridge' || sb.mode === 'none') {
      // Host ends first: deleting them is synchronous, while a namespace's own teardown runs later in the kernel.
      // Their direct-delivery entries go at the same time (frames to a veth being deleted are lost either way).
      if (sb.endpoints.length) {
        await Promise.all([
          this.d.direct.detach(sb.endpoints.map((ep) => this.directOf(ep))),
          deleteLinks(sb.endpoints.map((ep) => ep.hostIf)),
        ]);
      }
      if (sb.netnsPath) await this.d.netns.remove(sb.netnsPath);
    }
    for (const ep of sb.endpoints) reg.pools.get(ep.networkId)?.release(parseIp4(ep.ip));
    this.d.store.deleteSandbox(containerId);
    if (sb.ports.length) await this.d.firewall.updatePorts();
    this.d.log.info({ containerId }, 'network sandbox released');
  }

  async connect(containerId: string, network: string, req: EndpointRequest): Promise<SandboxInfo> {
    const { reg } = this.d;
    const sb = this.live(containerId);
    const net = reg.find(network);
    if (sb.mode !== 'bridge' || net.driver !== 'bridge') {
      throw new FailedPreconditionError(`container ${containerId.slice(0, 12)} cannot be connected to network ${net.name}: its network mode is ${sb.mode === 'bridge' ? net.driver : sb.mode}`);
    }
    if (sb.endpoints.some((ep) => ep.networkId === net.id)) {
      throw new ConflictError(`endpoint with name ${sb.containerName} already exists in network ${net.name}`);
    }
    const used = new Set(sb.endpoints.map((ep) => ep.ifname));
    let n = 0;
    while (used.has(`eth${n}`)) n++;
    const oldGw = reg.gatewayEndpoint(sb);
    const ep = this.planEndpoint(sb, net, req, `eth${n}`);
    sb.endpoints.push(ep);
    reg.index(sb, ep);
    const change: PlumbingChange = { plug: [this.plugOf(ep)] };
    const newGw = reg.gatewayEndpoint(sb);
    if (newGw && newGw !== oldGw) change.defaultRoute = { gateway: newGw.gateway, dev: newGw.ifname };
    const oldDns = sb.dnsNetworkId;
    const oldEmbedded = sb.embeddedDns;
    if (!sb.dnsNetworkId && !net.bridge!.isDefault) {
      // The first user-defined network: from now on the container asks the embedded server (as Docker
      // switches a default-bridge container's resolv.conf to 127.0.0.11 when it joins one).
      if (!sb.embeddedDns) change.dnsInit = true;
      sb.embeddedDns = true;
      sb.dnsNetworkId = net.id;
      change.dns = this.dnsTarget(ep);
    }
    try {
      await changeNamespace(sb.netnsPath!, change, this.restoreCmd);
    } catch (err) {
      sb.endpoints = sb.endpoints.filter((e) => e !== ep);
      reg.unindex(sb, ep);
      if (oldDns === undefined) delete sb.dnsNetworkId;
      sb.embeddedDns = oldEmbedded;
      reg.pools.get(net.id)?.release(parseIp4(ep.ip));
      await deleteLinks([ep.hostIf]).catch(() => {});
      throw wrap(err, `connect container ${containerId} to network ${net.name}`);
    }
    this.d.direct.attach([this.directOf(ep)]);
    this.writeFiles(sb);
    this.d.store.saveSandbox(sb);
    if (sb.ports.length && newGw !== oldGw) await this.d.firewall.updatePorts();
    return this.info(sb);
  }

  async disconnect(containerId: string, network: string): Promise<SandboxInfo> {
    const { reg } = this.d;
    const sb = this.live(containerId);
    const net = reg.find(network);
    const ep = sb.endpoints.find((e) => e.networkId === net.id);
    if (!ep) throw new NotFoundError(`container ${containerId.slice(0, 12)} is not connected to network ${net.name}`);
    const oldGw = reg.gatewayEndpoint(sb);
    sb.endpoints = sb.endpoints.filter((e) => e !== ep);
    reg.unindex(sb, ep);
    const change: PlumbingChange = { unplug: [ep.ifname] };
    const newGw = reg.gatewayEndpoint(sb);
    if (oldGw === ep) change.defaultRoute = newGw ? { gateway: newGw.gateway, dev: newGw.ifname } : null;
    if (sb.dnsNetworkId === net.id) {
      const next = reg.dnsEndpoint(sb);
      if (next) sb.dnsNetworkId = next.networkId;
      else delete sb.dnsNetworkId;
      change.dns = next ? this.dnsTarget(next) : null;
    }
    await Promise.all([changeNamespace(sb.netnsPath!, change, this.restoreCmd), this.d.direct.detach([this.directOf(ep)])]);
    reg.pools.get(net.id)?.release(parseIp4(ep.ip));
    this.writeFiles(sb);
    this.d.store.saveSandbox(sb);
    if (sb.ports.length && oldGw !== newGw) await this.d.firewall.updatePorts();
    return this.info(sb);
  }

  async rename(containerId: string, newName: string): Promise<SandboxInfo | undefined> {
    const sb = this.d.reg.sandboxes.get(containerId);
    if (!sb) return undefined;
    const old = sb.containerName;
    sb.containerName = newName;
    for (const ep of sb.endpoints) {
      if (ep.dnsNames.length) ep.dnsNames = [...new Set(ep.dnsNames.map((n) => (n === old ? newName : n)))];
    }
    this.d.store.saveSandbox(sb);
    return this.info(sb);
  }

  /** After a restart: listens again on the ports a sandbox had published. */
  async reopenPorts(sb: SandboxRecord): Promise<void> {
    if (sb.ports.length === 0) return;
    const requests = sb.ports.map((p) => ({
      proto: p.proto, containerPort: p.containerPort, hostIp: p.hostIp, hostPortStart: p.hostPort, hostPortEnd: p.hostPort,
    }));
    this.proxies.set(sb.containerId, await this.bindPorts(sb, requests));
  }

  /** After a network's DNS port moved: re-point the containers that send 127.0.0.11 there. */
  async repointDns(net: NetworkRecord): Promise<void> {
    for (const sb of this.d.reg.sandboxes.values()) {
      const ep = sb.endpoints.find((e) => e.networkId === net.id);
      if (sb.dnsNetworkId !== net.id || !ep || !sb.netnsPath) continue;
      await changeNamespace(sb.netnsPath, { dns: this.dnsTarget(ep) }, this.restoreCmd)
        .catch((err: unknown) => this.d.log.warn({ err, containerId: sb.containerId }, 'cannot re-point embedded DNS'));
    }
  }

  async closeAllProxies(): Promise<void> {
    for (const id of [...this.proxies.keys()]) await this.closeProxies(id);
  }

  /** The published ports as the firewall needs them: on the bridge of each sandbox's gateway endpoint. */
  portRules(): { bridge: string; containerIp: string; port: PortMapping }[] {
    const out: { bridge: string; containerIp: string; port: PortMapping }[] = [];
    for (const sb of this.d.reg.sandboxes.values()) {
      if (sb.mode !== 'bridge' || sb.ports.length === 0) continue;
      const gw = this.d.reg.gatewayEndpoint(sb);
      if (!gw) continue;
      const bridge = this.d.reg.network(gw.networkId).bridge!.name;
      for (const port of sb.ports) out.push({ bridge, containerIp: gw.ip, port });
    }
    return out;
  }

  private get restoreCmd(): string {
    return this.d.firewall.iptables.restoreCmd;
  }

  private async closeProxies(containerId: string): Promise<void> {
    const list = this.proxies.get(containerId) ?? [];
    this.proxies.delete(containerId);
    await Promise.all(list.map((p) => p.close()));
  }

  private commit(sb: SandboxRecord): void {
    this.d.reg.register(sb);
    this.d.store.saveSandbox(sb);
  }

  private live(containerId: string): SandboxRecord {
    const sb = this.d.reg.sandboxes.get(containerId);
    if (!sb) throw new NotFoundError(`container ${containerId} has no network sandbox (not running)`);
    return sb;
  }

  /** Allocates the address and names of a new endpoint (synchronously, so concurrent plans never collide). */
  private planEndpoint(sb: SandboxRecord, net: NetworkRecord, req: EndpointRequest, ifname: string): EndpointRecord {
    const pool = this.d.reg.pools.get(net.id)!;
    if (req.ipv4Address && net.bridge!.isDefault) {
      throw new InvalidArgumentError('user specified IP address is supported on user defined networks only');
    }
    const ip = formatIp4(pool.allocate(req.ipv4Address ? parseIp4(req.ipv4Address) : undefined));
    const aliases = [...new Set(req.aliases ?? [])];
    const dnsNames = net.bridge!.isDefault ? [] : [...new Set([sb.containerName, ...aliases, sb.containerId.slice(0, 12)])];
    return {
      id: newId(), networkId: net.id, ifname, hostIf: vethName(), ip, prefixLen: pool.subnet.prefixLen, gateway: formatIp4(pool.gateway),
      mac: req.macAddress || macAddress(ip), aliases, dnsNames, ...(req.ipv4Address ? { staticIp: req.ipv4Address } : {}),
    };
  }

  private plugOf(ep: EndpointRecord): Plug {
    const net = this.d.reg.network(ep.networkId);
    return {
      hostIf: ep.hostIf, ifname: ep.ifname, bridge: net.bridge!.name, mtu: net.bridge!.mtu, mac: ep.mac, cidr: `${ep.ip}/${ep.prefixLen}`,
      ...(this.d.hairpin ? { hairpin: true } : {}),
    };
  }

  private directOf(ep: EndpointRecord): { net: NetworkRecord; port: DirectPort } {
    return { net: this.d.reg.network(ep.networkId), port: { hostIf: ep.hostIf, mac: ep.mac } };
  }

  /** Every bridge network with the ports of its attached containers, for DirectDelivery.resync. */
  directPorts(): { net: NetworkRecord; ports: DirectPort[] }[] {
    return [...this.d.reg.networks.values()].filter((n) => n.bridge).map((net) => ({
      net, ports: this.d.reg.attached(net.id).map(({ ep }) => this.directOf(ep).port),
    }));
  }

  private dnsTarget(ep: EndpointRecord): { gateway: string; port: number; source: string } {
    return { gateway: ep.gateway, port: this.d.reg.network(ep.networkId).bridge!.dnsPort ?? 53, source: ep.ip };
  }

  private async bindPorts(sb: SandboxRecord, requests: PortRequest[]): Promise<PortProxy[]> {
    const started: PortProxy[] = [];
    const target = (containerPort: number) => () => {
      const gw = this.d.reg.gatewayEndpoint(sb);
      return gw ? { ip: gw.ip, port: containerPort } : undefined;
    };
    try {
      for (const r of requests) {
        if (r.hostPortStart === r.hostPortEnd) {
          started.push(await startProxy(r.proto, r.hostIp, r.hostPortStart, target(r.containerPort)));
          continue;
        }
        let proxy: PortProxy | undefined;
        for (let port = r.hostPortStart; port <= r.hostPortEnd && !proxy; port++) {
          proxy = await startProxy(r.proto, r.hostIp, port, target(r.containerPort)).catch(() => undefined);
        }
        if (!proxy) throw new ConflictError(`Bind for ${r.hostIp}:${r.hostPortStart}-${r.hostPortEnd} failed: no port of the range is free`);
        started.push(proxy);
      }
    } catch (err) {
      await Promise.all(started.map((p) => p.close()));
      throw err;
    }
    return started;
  }

  private parseExtraHost(h: string): { name: string; ip: string } {
    const m = /^([^:=]+)[:=](.+)$/.exec(h);
    if (!m) throw new InvalidArgumentError(`invalid extra host ${JSON.stringify(h)}: expected name:ip`);
    let ip = m[2]!.replace(/^\[|\]$/g, '');
    if (ip === 'host-gateway') {
      const def = [...this.d.reg.networks.values()].find((n) => n.bridge?.isDefault);
      if (!def) throw new InvalidArgumentError('unable to derive the IP value for host-gateway: there is no default bridge');
      ip = def.ipam.config[0]!.gateway;
    }
    return { name: m[1]!, ip };
  }

  private writeFiles(sb: SandboxRecord): void {
    const { reg } = this.d;
    writeSandboxFiles(sb, {
      hostResolv: this.d.hostResolv(),
      hostHosts: sb.mode === 'host' ? readText(this.d.hostsPath) : '',
      daemonDns: this.d.daemonDns,
      linkTarget: (id) => {
        const t = reg.sandboxes.get(id);
        const ep = t?.endpoints.find((e) => reg.networks.get(e.networkId)?.bridge?.isDefault) ?? t?.endpoints[0];
        return t && ep ? { ip: ep.ip, hostname: t.hostname, name: t.containerName } : undefined;
      },
    });
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
