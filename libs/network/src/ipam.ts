// IPAM: the address space of one network (subnet, gateway, optional ip-range and reserved addresses) and the
// choice of a subnet for a network created without one. Allocations are not persisted here: the network
// manager rebuilds them from the endpoints it has on record.
import { ConflictError, InvalidArgumentError, ResourceExhaustedError } from '@berth/errdefs';
import { broadcast, contains, formatCidr4, formatIp4, overlaps, subdivide, within, type Cidr4, type Ip4 } from './ipv4.ts';

export interface AddressPoolSpec {
  subnet: Cidr4;
  gateway: Ip4;
  /** Dynamic allocations come from here (Docker's `--ip-range`); static ones may use the whole subnet. */
  range?: Cidr4;
  /** Addresses never handed out (Docker's `--aux-address`). */
  reserved?: Ip4[];
}

export class AddressPool {
  readonly subnet: Cidr4;
  readonly gateway: Ip4;
  readonly range: Cidr4;
  private readonly reserved: Set<Ip4>;
  private readonly allocated = new Set<Ip4>();
  /** Allocation goes round the range from the last address handed out, so a freed address is not reused at once. */
  private cursor: Ip4;

  readonly networkName: string;

  constructor(spec: AddressPoolSpec, networkName = '') {
    this.networkName = networkName;
    this.subnet = spec.subnet;
    this.gateway = spec.gateway;
    this.range = spec.range ?? spec.subnet;
    if (!within(this.range, this.subnet)) {
      throw new InvalidArgumentError(`ip-range ${formatCidr4(this.range)} is not within subnet ${formatCidr4(this.subnet)}`);
    }
    if (!contains(this.subnet, this.gateway)) {
      throw new InvalidArgumentError(`gateway ${formatIp4(this.gateway)} is not within subnet ${formatCidr4(this.subnet)}`);
    }
    this.reserved = new Set(spec.reserved ?? []);
    this.reserved.add(this.gateway);
    this.cursor = this.range.network;
  }

  /** Whether `ip` can ever be handed out (inside the subnet, not the network/broadcast address, gateway or reserved). */
  usable(ip: Ip4): boolean {
    if (!contains(this.subnet, ip) || this.reserved.has(ip)) return false;
    if (this.subnet.prefixLen >= 31) return true;
    return ip !== this.subnet.network && ip !== broadcast(this.subnet);
  }

  isAllocated(ip: Ip4): boolean {
    return this.allocated.has(ip);
  }

  get inUse(): number {
    return this.allocated.size;
  }

  /** Allocates `preferred` (a static `--ip`, from anywhere in the subnet) or the next free address of the range. */
  allocate(preferred?: Ip4): Ip4 {
    if (preferred !== undefined) {
      if (!contains(this.subnet, preferred)) {
        throw new InvalidArgumentError(`invalid address ${formatIp4(preferred)}: It does not belong to any of this network's subnets`);
      }
      if (!this.usable(preferred) || this.allocated.has(preferred)) {
        throw new ConflictError(`Address already in use: ${formatIp4(preferred)} on network ${this.networkName}`);
      }
      this.allocated.add(preferred);
      return preferred;
    }
    const first = this.range.network;
    const count = 2 ** (32 - this.range.prefixLen);
    for (let i = 1; i <= count; i++) {
      const ip = (first + ((this.cursor - first + i) % count)) >>> 0;
      if (this.usable(ip) && !this.allocated.has(ip)) {
        this.allocated.add(ip);
        this.cursor = ip;
        return ip;
      }
    }
    throw new ResourceExhaustedError(`no available IPv4 addresses on this network's address pools: ${this.networkName} (${formatCidr4(this.range)})`);
  }

  /** Marks an address as taken without the checks (used when rebuilding state from endpoints on record). */
  restore(ip: Ip4): void {
    this.allocated.add(ip);
  }

  release(ip: Ip4): void {
    this.allocated.delete(ip);
  }
}

/** Docker's `default-address-pools` entry: split `base` into subnets of `size` bits. */
export interface PoolBase {
  base: Cidr4;
  size: number;
}

/** Docker's built-in defaults: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/16 in /20s. */
export const DEFAULT_POOLS: readonly PoolBase[] = [
  { base: { network: (172 << 24 | 17 << 16) >>> 0, prefixLen: 16 }, size: 16 },
  { base: { network: (172 << 24 | 18 << 16) >>> 0, prefixLen: 15 }, size: 16 },
  { base: { network: (172 << 24 | 20 << 16) >>> 0, prefixLen: 14 }, size: 16 },
  { base: { network: (172 << 24 | 24 << 16) >>> 0, prefixLen: 13 }, size: 16 },
  { base: { network: (192 << 24 | 168 << 16) >>> 0, prefixLen: 16 }, size: 20 },
];

/** The first subnet from `pools` that overlaps none of `taken` (other networks' subnets and the host's routes). */
export function choosePool(pools: readonly PoolBase[], taken: readonly Cidr4[]): Cidr4 {
  for (const p of pools) {
    for (const candidate of subdivide(p.base, p.size)) {
      if (!taken.some((t) => overlaps(t, candidate))) return candidate;
    }
  }
  throw new ResourceExhaustedError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}
