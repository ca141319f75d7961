/**
 * Docker's JSON shapes for networks (`GET /networks`, `network inspect`) and a container's `NetworkSettings`,
 * built from @berth/network's records and the container's configuration.
 */
import { createHash } from 'node:crypto';
import type { EndpointSettings, Network, NetworkContainer, NetworkSettings } from '@berth/docker-api';
import { dockerPorts, type EndpointRecord, type NetworkRecord, type SandboxInfo } from '@berth/network';

export function networkView(n: NetworkRecord, containers?: Record<string, NetworkContainer>): Network {
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: {
      Driver: 'default',
      Options: n.predefined ? null : { ...n.ipam.options },
      Config: n.ipam.config.map((c) => ({
        Subnet: c.subnet, Gateway: c.gateway, ...(c.ipRange ? { IPRange: c.ipRange } : {}),
        ...(c.auxAddresses ? { AuxiliaryAddresses: { ...c.auxAddresses } } : {}),
      })),
    },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers ?? {},
    Options: { ...n.options },
    Labels: { ...n.labels },
  };
}

export function networkContainer(name: string, ep: EndpointRecord): NetworkContainer {
  return { Name: name, EndpointID: ep.id, MacAddress: ep.mac, IPv4Address: `${ep.ip}/${ep.prefixLen}`, IPv6Address: '' };
}

/** A stable 64-hex id for things berth does not keep an id for (a sandbox is the container's stack). */
export function derivedId(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

function emptyEndpoint(settings: EndpointSettings | undefined, networkId: string): EndpointSettings {
  return {
    IPAMConfig: settings?.IPAMConfig ?? null,
    Links: settings?.Links ?? null,
    Aliases: settings?.Aliases ?? null,
    MacAddress: settings?.MacAddress ?? '',
    DriverOpts: settings?.DriverOpts ?? null,
    GwPriority: settings?.GwPriority ?? 0,
    NetworkID: networkId,
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

export interface SettingsInput {
  /** The networks the container is configured for: Docker network name → its request settings. */
  configured: Record<string, EndpointSettings>;
  /** Live state, when the container runs. */
  sandbox: SandboxInfo | undefined;
  /** Network records by id (for names). */
  network(id: string): NetworkRecord | undefined;
  /** Network id for a configured name (undefined: gone). */
  networkId(name: string): string | undefined;
  exposedPorts: string[];
  containerId: string;
}

/** Docker's `NetworkSettings`: per-network endpoints, the legacy top-level fields from the default bridge, ports. */
export function networkSettings(i: SettingsInput): NetworkSettings {
  const networks: Record<string, EndpointSettings> = {};
  for (const [name, s] of Object.entries(i.configured)) networks[name] = emptyEndpoint(s, i.networkId(name) ?? '');
  const sb = i.sandbox;
  let top: EndpointSettings | undefined;
  for (const ep of sb?.endpoints ?? []) {
    const net = i.network(ep.networkId);
    if (!net) continue;
    const base = networks[net.name] ?? emptyEndpoint(undefined, net.id);
    networks[net.name] = {
      ...base,
      Aliases: ep.aliases.length ? ep.aliases : base.Aliases,
      MacAddress: ep.mac,
      NetworkID: net.id,
      EndpointID: ep.id,
      Gateway: ep.gateway,
      IPAddress: ep.ip,
      IPPrefixLen: ep.prefixLen,
      DNSNames: ep.dnsNames.length ? ep.dnsNames : null,
    };
    if (net.bridge?.isDefault) top = networks[net.name];
  }
  const running = !!sb;
  const ports = running && sb.mode === 'bridge' ? dockerPorts(sb.exposedPorts, sb.ports) : running ? dockerPorts(sb.exposedPorts, []) : {};
  return {
    Bridge: '',
    SandboxID: running ? derivedId(`sandbox-${i.containerId}`) : '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: ports,
    SandboxKey: sb?.netnsPath ?? '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: top?.EndpointID ?? '',
    Gateway: top?.Gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: top?.IPAddress ?? '',
    IPPrefixLen: top?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: top?.MacAddress ?? '',
    Networks: networks,
  };
}
