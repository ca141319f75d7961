// The vocabulary of the network manager. A *network* is a Docker network (a Linux bridge, or the predefined
// `host` and `none`). A *sandbox* is one container's network stack: a network namespace (except in host mode),
// its /etc/hosts, /etc/resolv.conf and /etc/hostname files, and its *endpoints*, one per network it is attached
// to (a veth pair, an address, DNS names). Records are what is persisted under the manager's root.
import type { Proto } from './port-proxy.ts';

export type Driver = 'bridge' | 'host' | 'null';

export interface IpamConfig {
  subnet: string;
  gateway: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
}

export interface NetworkRecord {
  id: string;
  name: string;
  driver: Driver;
  /** RFC 3339 */
  created: string;
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  /** Driver options as given (Docker's `Options`); the parsed ones are in `bridge`. */
  options: Record<string, string>;
  ipam: { driver: 'default'; options: Record<string, string>; config: IpamConfig[] };
  /** Predefined networks (`bridge`, `host`, `none`) cannot be removed. */
  predefined: boolean;
  bridge?: BridgeSettings;
}

export interface BridgeSettings {
  name: string;
  mtu: number;
  icc: boolean;
  masquerade: boolean;
  /** Default host address for published ports (`com.docker.network.bridge.host_binding_ipv4`). */
  hostBindingIp: string;
  /** The default `bridge` network: no embedded DNS, legacy links. */
  isDefault: boolean;
  /** The Linux bridge was made by berth (and is removed with the network). */
  owned: boolean;
  /** The port of the embedded DNS server on the gateway address (user-defined networks), kept across restarts. */
  dnsPort?: number;
  /** `false`: frames between its containers go through the bridge (see direct-delivery.ts); absent means on. */
  directDelivery?: boolean;
}

export interface CreateNetworkRequest {
  name: string;
  driver?: string;
  internal?: boolean;
  attachable?: boolean;
  enableIPv6?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  ipam?: { driver?: string; options?: Record<string, string>; config?: Partial<IpamConfig>[] };
}

/** Per-network settings of a container (Docker's `EndpointSettings`, the parts that matter here). */
export interface EndpointRequest {
  aliases?: string[];
  /** A static address (`--ip`); only on networks with a user-configured subnet. */
  ipv4Address?: string;
  macAddress?: string;
}

export interface PortBinding {
  /** `''` or `0.0.0.0`: every address (or the network's host_binding_ipv4). */
  hostIp?: string;
  /** `''`: an ephemeral port; `8000-8010`: the first free port of the range. */
  hostPort?: string;
}

export interface SandboxSpec {
  containerId: string;
  /** Without the leading slash. */
  containerName: string;
  hostname: string;
  domainname?: string;
  /**
   * Docker's `HostConfig.NetworkMode`: `default`/`bridge`, `none`, `host`, `container:<id>` (the engine resolves
   * the name to the full id), or a network name or id.
   */
  networkMode: string;
  /** Docker's `NetworkingConfig.EndpointsConfig`, keyed by network name or id (may include the mode's network). */
  endpoints?: Record<string, EndpointRequest>;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** `name:ip` (or `name=ip`); `host-gateway` stands for the default bridge's gateway. */
  extraHosts?: string[];
  /** Docker's `HostConfig.PortBindings`: `{"80/tcp": [{HostIp, HostPort}]}`. */
  portBindings?: Record<string, PortBinding[] | null>;
  publishAllPorts?: boolean;
  /** `80/tcp`, … (from the image and `--expose`); shown in `Ports` even when not published. */
  exposedPorts?: string[];
  /** Legacy `--link name:alias` on the default bridge: the target's container id and the alias. */
  links?: { containerId: string; alias: string }[];
  /** Where the sandbox's hosts, resolv.conf and hostname files are written. */
  filesDir: string;
}

export interface EndpointRecord {
  id: string;
  networkId: string;
  /** Interface name inside the container (`eth0`, …). */
  ifname: string;
  /** The host side of the veth pair. */
  hostIf: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  /** User aliases (`--network-alias`). */
  aliases: string[];
  /** Every name this endpoint answers to in DNS: container name, aliases, short id. */
  dnsNames: string[];
  /** The requested static address, if any (Docker's `IPAMConfig.IPv4Address`). */
  staticIp?: string;
}

export interface PortMapping {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

export type SandboxMode = 'bridge' | 'none' | 'host' | 'container';

export interface SandboxRecord {
  containerId: string;
  containerName: string;
  hostname: string;
  domainname?: string;
  mode: SandboxMode;
  /** The container whose stack this one shares (`container:` mode). */
  sharedWith?: string;
  netnsPath?: string;
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  extraHosts: { name: string; ip: string }[];
  links: { containerId: string; alias: string }[];
  /** resolv.conf points at 127.0.0.11 (the container started on a user-defined network). */
  embeddedDns: boolean;
  /** The network whose gateway 127.0.0.11 is translated to inside the namespace. */
  dnsNetworkId?: string;
  endpoints: EndpointRecord[];
  ports: PortMapping[];
  exposedPorts: string[];
  created: string;
}

/** A sandbox as callers see it: the record plus the derived facts the engine needs for the OCI spec and inspect. */
export interface SandboxInfo extends SandboxRecord {
  /** The endpoint providing the default route (and published ports), if any. */
  gatewayEndpointId?: string;
}
