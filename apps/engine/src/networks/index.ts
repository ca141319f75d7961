/**
 * The networks extension of berthd: Docker's networking on @berth/network (bridges, IPAM, namespaces, iptables,
 * published ports, embedded DNS) and the `/networks` routes. Loaded by the engine through `createExtension`
 * (see ../extensions.ts); the daemon's networking flags come from its configuration.
 */
import path from 'node:path';
import { NetworkManager, type NetworkManagerOptions } from '@berth/network';
import type { EngineExtension, ExtensionHost } from '../extensions.ts';
import { BridgeNetworking } from './bridge-networking.ts';
import { ContainerNetworks } from './container-networks.ts';
import { networkRoutes } from './routes.ts';

/** The network manager's options from berthd's configuration (dockerd's flag names). */
export function managerOptions(host: ExtensionHost): NetworkManagerOptions {
  const c = host.config;
  const env = process.env;
  return {
    root: path.join(c.dataRoot, 'network'),
    execRoot: c.execRoot,
    defaultBridge: c.bridge === 'none' ? null : {
      name: c.bridge || 'berth0',
      ...(c.bip ? { bip: c.bip } : {}),
      ...(c.fixedCidr ? { fixedCidr: c.fixedCidr } : {}),
      ...(c.mtu ? { mtu: c.mtu } : {}),
      icc: c.icc,
      ipMasq: c.ipMasq,
      hostBindingIp: c.ip || '0.0.0.0',
    },
    defaultAddressPools: c.defaultAddressPools,
    iptables: c.iptables,
    ipForward: c.ipForward,
    userlandProxy: c.userlandProxy,
    directDelivery: c.bridgeDirectDelivery,
    dns: c.dns,
    dnsSearch: c.dnsSearch,
    dnsOptions: c.dnsOpts,
    ...(c.mtu ? { mtu: c.mtu } : {}),
    // The host files berth reads: overridable for tests (a private resolver instead of the machine's).
    ...(env.BERTH_RESOLV_CONF ? { resolvConfPath: env.BERTH_RESOLV_CONF } : {}),
    ...(env.BERTH_IPTABLES_VARIANT === 'nft' || env.BERTH_IPTABLES_VARIANT === 'legacy' ? { iptablesVariant: env.BERTH_IPTABLES_VARIANT } : {}),
    logger: host.log.child({ component: 'network' }),
  };
}

export async function createExtension(host: ExtensionHost): Promise<EngineExtension> {
  const manager = await NetworkManager.open(managerOptions(host));
  const networking = new BridgeNetworking(host, manager, new ContainerNetworks(path.join(host.config.dataRoot, 'network', 'containers')));
  return {
    name: 'networks',
    networking,
    routes: (app) => networkRoutes(app, host, networking),
    info: () => ({ bridge: manager.list().find((n) => n.bridge?.isDefault)?.bridge?.name ?? '', networks: manager.list().length }),
    close: () => manager.close(),
  };
}
