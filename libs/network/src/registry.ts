// The manager's in-memory view: networks with their address pools, sandboxes, and an index of endpoints by
// network and address. It also answers the embedded DNS server's questions (who asks, which names it sees).
import { InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import type { DnsBackend } from './dns-server.ts';
import { AddressPool } from './ipam.ts';
import { parseCidr4, parseIp4 } from './ipv4.ts';
import { upstreamResolvers, type ResolvConf } from './resolv-conf.ts';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './types.ts';

export interface Attached {
  sb: SandboxRecord;
  ep: EndpointRecord;
}

export class Registry implements DnsBackend {
  readonly networks = new Map<string, NetworkRecord>();
  readonly pools = new Map<string, AddressPool>();
  readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly byNetIp = new Map<string, Map<string, Attached>>();
  private readonly hostResolv: () => ResolvConf;
  private readonly daemonDns: string[];

  constructor(hostResolv: () => ResolvConf, daemonDns: string[]) {
    this.hostResolv = hostResolv;
    this.daemonDns = daemonDns;
  }

  addNetwork(n: NetworkRecord): void {
    this.networks.set(n.id, n);
    if (n.driver === 'bridge') this.pools.set(n.id, poolOf(n));
  }

  removeNetwork(id: string): void {
    this.networks.delete(id);
    this.pools.delete(id);
    this.byNetIp.delete(id);
  }

  network(id: string): NetworkRecord {
    return this.networks.get(id)!;
  }

  /** Docker's lookup order: full id, exact name, then a unique id prefix. */
  find(idOrName: string): NetworkRecord {
    const byId = this.networks.get(idOrName);
    if (byId) return byId;
    const all = [...this.networks.values()];
    const byName = all.find((n) => n.name === idOrName);
    if (byName) return byName;
    const byPrefix = idOrName ? all.filter((n) => n.id.startsWith(idOrName)) : [];
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw new InvalidArgumentError(`network ${idOrName} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
    throw new NotFoundError(`network ${idOrName} not found`);
  }

  attached(networkId: string): Attached[] {
    return [...(this.byNetIp.get(networkId)?.values() ?? [])];
  }

  register(sb: SandboxRecord): void {
    this.sandboxes.set(sb.containerId, sb);
    for (const ep of sb.endpoints) this.index(sb, ep);
  }

  unregister(sb: SandboxRecord): void {
    if (this.sandboxes.get(sb.containerId) === sb) this.sandboxes.delete(sb.containerId);
    for (const ep of sb.endpoints) this.unindex(sb, ep);
  }

  index(sb: SandboxRecord, ep: EndpointRecord): void {
    let m = this.byNetIp.get(ep.networkId);
    if (!m) this.byNetIp.set(ep.networkId, (m = new Map()));
    m.set(ep.ip, { sb, ep });
  }

  unindex(sb: SandboxRecord, ep: EndpointRecord): void {
    const m = this.byNetIp.get(ep.networkId);
    if (m?.get(ep.ip)?.sb === sb) m.delete(ep.ip);
  }

  /** Docker's order of a container's endpoints: external networks before internal ones, then by name. */
  sorted(sb: SandboxRecord): EndpointRecord[] {
    return [...sb.endpoints].sort((a, b) => {
      const na = this.network(a.networkId);
      const nb = this.network(b.networkId);
      if (na.internal !== nb.internal) return na.internal ? 1 : -1;
      return na.name < nb.name ? -1 : na.name > nb.name ? 1 : 0;
    });
  }

  /** The endpoint that gives the default route and carries published ports. */
  gatewayEndpoint(sb: SandboxRecord): EndpointRecord | undefined {
    return this.sorted(sb).find((ep) => !this.network(ep.networkId).internal);
  }

  /** The endpoint whose network's DNS server 127.0.0.11 is sent to (user-defined networks only). */
  dnsEndpoint(sb: SandboxRecord): EndpointRecord | undefined {
    return this.sorted(sb).find((ep) => !this.network(ep.networkId).bridge!.isDefault);
  }

  // DnsBackend

  upstreams(networkId: string, source: string): string[] | undefined {
    const hit = this.byNetIp.get(networkId)?.get(source);
    if (!hit) return undefined;
    if (hit.sb.endpoints.every((ep) => this.networks.get(ep.networkId)?.internal)) return [];
    return upstreamResolvers(this.hostResolv(), { dns: hit.sb.dns.length ? hit.sb.dns : this.daemonDns });
  }

  lookup(networkId: string, source: string, name: string): string[] | undefined {
    const hit = this.byNetIp.get(networkId)?.get(source);
    if (!hit) return undefined;
    const order = [networkId, ...hit.sb.endpoints.map((e) => e.networkId).filter((id) => id !== networkId)];
    for (const id of order) {
      const net = this.networks.get(id);
      if (!net?.bridge || net.bridge.isDefault) continue;
      const suffix = `.${net.name.toLowerCase()}`;
      const bare = name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
      const ips: string[] = [];
      for (const [ip, { ep }] of this.byNetIp.get(id) ?? []) {
        if (ep.dnsNames.some((n) => n.toLowerCase() === name || n.toLowerCase() === bare)) ips.push(ip);
      }
      if (ips.length) return ips;
    }
    return undefined;
  }

  reverse(networkId: string, source: string, ip: string): string | undefined {
    const hit = this.byNetIp.get(networkId)?.get(source);
    if (!hit) return undefined;
    for (const ep of hit.sb.endpoints) {
      const net = this.networks.get(ep.networkId);
      const owner = this.byNetIp.get(ep.networkId)?.get(ip);
      if (net && owner && !net.bridge?.isDefault) return `${owner.sb.containerName}.${net.name}`;
    }
    return undefined;
  }
}

function poolOf(n: NetworkRecord): AddressPool {
  const c = n.ipam.config[0]!;
  return new AddressPool({
    subnet: parseCidr4(c.subnet),
    gateway: parseIp4(c.gateway),
    ...(c.ipRange ? { range: parseCidr4(c.ipRange) } : {}),
    reserved: Object.values(c.auxAddresses ?? {}).map(parseIp4),
  }, n.name);
}
