// Turning a create request (Docker's NetworkCreateRequest, or the daemon's bridge flags) into a network record:
// validation, driver options, and the subnet from the request or from the default pools.
import { randomBytes } from 'node:crypto';
import { ConflictError, InvalidArgumentError, NotFoundError, NotImplementedError, PermissionDeniedError } from '@berth/errdefs';
import { choosePool, type PoolBase } from './ipam.ts';
import { formatCidr4, formatIp4, overlaps, parseCidr4, parseIp4, type Cidr4 } from './ipv4.ts';
import type { BridgeSettings, CreateNetworkRequest, IpamConfig, NetworkRecord } from './types.ts';

export const OPT_BRIDGE_NAME = 'com.docker.network.bridge.name';
export const OPT_MTU = 'com.docker.network.driver.mtu';
export const OPT_ICC = 'com.docker.network.bridge.enable_icc';
export const OPT_MASQ = 'com.docker.network.bridge.enable_ip_masquerade';
export const OPT_HOST_BINDING = 'com.docker.network.bridge.host_binding_ipv4';
export const OPT_DEFAULT_BRIDGE = 'com.docker.network.bridge.default_bridge';
/** berth's own: `false` sends frames between the network's containers through the bridge (and its FORWARD rules). */
export const OPT_DIRECT_DELIVERY = 'berth.bridge.direct_delivery';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const IFNAME = /^[a-zA-Z0-9_.-]{1,15}$/;

export function newId(): string {
  return randomBytes(32).toString('hex');
}

function bool(v: string | undefined, key: string, dflt: boolean): boolean {
  if (v === undefined || v === '') return dflt;
  if (/^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  throw new InvalidArgumentError(`invalid value ${JSON.stringify(v)} for option ${key}: not a boolean`);
}

function mtuOf(v: string | undefined, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 68 || n > 65535) throw new InvalidArgumentError(`invalid MTU ${JSON.stringify(v)}: must be an integer between 68 and 65535`);
  return n;
}

export function predefinedHost(): NetworkRecord {
  return predefined('host', 'host');
}

export function predefinedNone(): NetworkRecord {
  return predefined('none', 'null');
}

function predefined(name: string, driver: 'host' | 'null'): NetworkRecord {
  return {
    id: newId(), name, driver, created: new Date().toISOString(), internal: false, attachable: false, labels: {}, options: {},
    ipam: { driver: 'default', options: {}, config: [] }, predefined: true,
  };
}

export interface AddressContext {
  /** Subnets of the other networks of this manager. */
  networks: readonly Cidr4[];
  /** Routes of the host (other daemons' bridges, LANs). */
  hostRoutes: readonly Cidr4[];
  pools: readonly PoolBase[];
}

/** The IPv4 address space of a new network: the request's, checked, or the first free pool. */
export function resolveIpam(config: Partial<IpamConfig>[] | undefined, ctx: AddressContext, networkName: string): IpamConfig {
  const v4 = (config ?? []).filter((c) => !(c.subnet ?? '').includes(':'));
  if ((config ?? []).length > v4.length) throw new NotImplementedError(`create network ${networkName}: IPv6 subnets are not supported`);
  if (v4.length > 1) throw new NotImplementedError(`create network ${networkName}: more than one IPv4 subnet per network is not supported`);
  const c = v4[0] ?? {};
  let subnet: Cidr4;
  if (c.subnet) {
    try {
      subnet = parseCidr4(c.subnet, true);
    } catch (err) {
      throw new InvalidArgumentError(`invalid subnet ${c.subnet}: ${(err as Error).message}`);
    }
    if (ctx.networks.some((n) => overlaps(n, subnet))) {
      throw new PermissionDeniedError('invalid pool request: Pool overlaps with other one on this address space');
    }
  } else {
    if (c.ipRange || c.gateway) throw new InvalidArgumentError('invalid pool request: an ip-range or gateway needs a subnet');
    subnet = choosePool(ctx.pools, [...ctx.networks, ...ctx.hostRoutes]);
  }
  if (subnet.prefixLen > 30) throw new InvalidArgumentError(`invalid subnet ${formatCidr4(subnet)}: too small for a bridge network (at most /30)`);
  const gateway = c.gateway ? parseIp4(c.gateway) : subnet.network + 1;
  const out: IpamConfig = { subnet: formatCidr4(subnet), gateway: formatIp4(gateway) };
  if (c.ipRange) {
    const range = parseCidr4(c.ipRange, true);
    out.ipRange = formatCidr4(range);
  }
  if (c.auxAddresses && Object.keys(c.auxAddresses).length) {
    for (const ip of Object.values(c.auxAddresses)) parseIp4(ip);
    out.auxAddresses = { ...c.auxAddresses };
  }
  return out;
}

/** A user-defined bridge network from Docker's create request (the address space still to be checked by IPAM). */
export function bridgeNetworkRecord(
  req: CreateNetworkRequest,
  existing: readonly NetworkRecord[],
  ctx: AddressContext,
  defaults: { mtu: number },
): NetworkRecord {
  const name = req.name ?? '';
  if (!NAME.test(name)) throw new InvalidArgumentError(`invalid name ${JSON.stringify(name)} for a network: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  if (existing.some((n) => n.name === name)) throw new ConflictError(`network with name ${name} already exists`);
  const driver = req.driver || 'bridge';
  if (driver === 'host' || driver === 'null') throw new PermissionDeniedError(`only one instance of "${driver}" network is allowed`);
  if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
  if (req.enableIPv6) throw new NotImplementedError(`create network ${name}: IPv6 is not supported`);
  if (req.ipam?.driver && req.ipam.driver !== 'default') throw new NotFoundError(`plugin "${req.ipam.driver}" not found`);
  const options = { ...(req.options ?? {}) };
  const id = newId();
  const bridgeName = options[OPT_BRIDGE_NAME] || `br-${id.slice(0, 12)}`;
  if (!IFNAME.test(bridgeName)) throw new InvalidArgumentError(`invalid bridge name ${JSON.stringify(bridgeName)}: at most 15 characters of [a-zA-Z0-9_.-]`);
  const clash = existing.find((n) => n.bridge?.name === bridgeName);
  if (clash) throw new ConflictError(`bridge name ${bridgeName} is already used by network ${clash.name}`);
  const hostBindingIp = options[OPT_HOST_BINDING] || '0.0.0.0';
  parseIp4(hostBindingIp);
  const bridge: BridgeSettings = {
    name: bridgeName,
    mtu: mtuOf(options[OPT_MTU], defaults.mtu),
    icc: bool(options[OPT_ICC], OPT_ICC, true),
    masquerade: bool(options[OPT_MASQ], OPT_MASQ, true),
    hostBindingIp,
    isDefault: false,
    owned: true,
    ...(bool(options[OPT_DIRECT_DELIVERY], OPT_DIRECT_DELIVERY, true) ? {} : { directDelivery: false }),
  };
  const ipam = resolveIpam(req.ipam?.config, ctx, name);
  return {
    id, name, driver: 'bridge', created: new Date().toISOString(), internal: !!req.internal, attachable: !!req.attachable,
    labels: { ...(req.labels ?? {}) }, options, ipam: { driver: 'default', options: { ...(req.ipam?.options ?? {}) }, config: [ipam] },
    predefined: false, bridge,
  };
}

export interface DefaultBridgeOptions {
  /** Linux bridge name (dockerd's `--bridge`), `berth0` by default. */
  name: string;
  /** The bridge's address and prefix (dockerd's `--bip`, e.g. `172.17.0.1/16`); else the bridge's current one or a pool. */
  bip?: string;
  /** Dynamic addresses come from this part of the subnet (`--fixed-cidr`). */
  fixedCidr?: string;
  mtu?: number;
  icc?: boolean;
  ipMasq?: boolean;
  /** Default host address for published ports (`--ip`). */
  hostBindingIp?: string;
}

/** The record of the default `bridge` network for the daemon's flags, keeping the id of the previous record. */
export function defaultBridgeRecord(
  o: DefaultBridgeOptions,
  previous: NetworkRecord | undefined,
  current: { address?: string; owned: boolean },
  ctx: AddressContext,
  defaults: { mtu: number },
): NetworkRecord {
  if (!IFNAME.test(o.name)) throw new InvalidArgumentError(`invalid bridge name ${JSON.stringify(o.name)}: at most 15 characters of [a-zA-Z0-9_.-]`);
  let ipam: IpamConfig;
  const fromCidr = (cidr: string): IpamConfig => {
    const c = parseCidr4(cidr);
    return { subnet: formatCidr4(c), gateway: formatIp4(c.address) };
  };
  if (o.bip) ipam = fromCidr(o.bip);
  else if (current.address) ipam = fromCidr(current.address);
  else if (previous?.ipam.config[0] && previous.bridge?.name === o.name) {
    ipam = { subnet: previous.ipam.config[0].subnet, gateway: previous.ipam.config[0].gateway };
  } else ipam = resolveIpam(undefined, ctx, 'bridge');
  if (o.fixedCidr) ipam.ipRange = formatCidr4(parseCidr4(o.fixedCidr, true));
  const mtu = o.mtu ?? defaults.mtu;
  const icc = o.icc ?? true;
  const masq = o.ipMasq ?? true;
  const hostBindingIp = o.hostBindingIp ?? '0.0.0.0';
  return {
    id: previous?.id ?? newId(), name: 'bridge', driver: 'bridge', created: previous?.created ?? new Date().toISOString(),
    internal: false, attachable: false, labels: {},
    options: {
      [OPT_DEFAULT_BRIDGE]: 'true', [OPT_ICC]: String(icc), [OPT_MASQ]: String(masq), [OPT_HOST_BINDING]: hostBindingIp,
      [OPT_BRIDGE_NAME]: o.name, [OPT_MTU]: String(mtu),
    },
    ipam: { driver: 'default', options: {}, config: [ipam] },
    predefined: true,
    bridge: {
      name: o.name, mtu, icc, masquerade: masq, hostBindingIp, isDefault: true,
      owned: previous?.bridge?.name === o.name ? previous.bridge.owned : current.owned,
    },
  };
}
