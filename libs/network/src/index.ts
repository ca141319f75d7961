// Public API of @berth/network: Docker's networking for one host (bridges, IPAM, namespaces, iptables, DNS).
export { NetworkManager, defaultChainPrefix, type NetworkManagerOptions } from './network-manager.ts';
export { directEntries, type DirectEntry } from './direct-delivery.ts';
export type {
  BridgeSettings, CreateNetworkRequest, Driver, EndpointRecord, EndpointRequest, IpamConfig, NetworkRecord, PortBinding,
  PortMapping, SandboxInfo, SandboxMode, SandboxRecord, SandboxSpec,
} from './types.ts';
export type { DefaultBridgeOptions } from './network-config.ts';
export { dockerPorts, parsePortKey } from './port-mapping.ts';
export type { Logger } from './logger.ts';
export type { IptablesVariant } from './iptables.ts';
export type { Proto } from './port-proxy.ts';
export { EMBEDDED_DNS_ADDRESS } from './resolv-conf.ts';
export { parseCidr4, formatCidr4, parseIp4, formatIp4, isIp4 } from './ipv4.ts';
