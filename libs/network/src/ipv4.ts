import { InvalidArgumentError } from '@berth/errdefs';

/** An IPv4 address as an unsigned 32-bit number. */
export type Ip4 = number;

/** An IPv4 prefix: the network address (host bits zero) and its length. */
export interface Cidr4 {
  network: Ip4;
  prefixLen: number;
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIp4(s: string): Ip4 {
  const m = DOTTED.exec(s.trim());
  if (!m) throw new InvalidArgumentError(`invalid IPv4 address: ${JSON.stringify(s)}`);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255 || (m[i]!.length > 1 && m[i]!.startsWith('0'))) throw new InvalidArgumentError(`invalid IPv4 address: ${JSON.stringify(s)}`);
    n = n * 256 + octet;
  }
  return n;
}

export function isIp4(s: string): boolean {
  try {
    parseIp4(s);
    return true;
  } catch {
    return false;
  }
}

export function formatIp4(n: Ip4): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function maskOf(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/**
 * Parses `a.b.c.d/len`. With `strict`, host bits must be zero (Docker refuses `10.0.0.1/24` as a subnet);
 * otherwise they are cleared and the address is returned as `address`.
 */
export function parseCidr4(s: string, strict = false): Cidr4 & { address: Ip4 } {
  const slash = s.indexOf('/');
  if (slash < 0) throw new InvalidArgumentError(`invalid CIDR address: ${s}`);
  const address = parseIp4(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  const prefixLen = Number(lenText);
  if (!/^\d{1,2}$/.test(lenText) || prefixLen > 32) throw new InvalidArgumentError(`invalid CIDR address: ${s}`);
  const network = (address & maskOf(prefixLen)) >>> 0;
  if (strict && network !== address) {
    throw new InvalidArgumentError(`invalid CIDR address: ${s}: host bits set (did you mean ${formatIp4(network)}/${prefixLen}?)`);
  }
  return { network, prefixLen, address };
}

export function formatCidr4(c: Cidr4): string {
  return `${formatIp4(c.network)}/${c.prefixLen}`;
}

export function size(c: Cidr4): number {
  return 2 ** (32 - c.prefixLen);
}

export function broadcast(c: Cidr4): Ip4 {
  return (c.network + size(c) - 1) >>> 0;
}

export function contains(c: Cidr4, ip: Ip4): boolean {
  return ((ip & maskOf(c.prefixLen)) >>> 0) === c.network;
}

/** Whether one prefix contains the other (two prefixes either nest or are disjoint). */
export function overlaps(a: Cidr4, b: Cidr4): boolean {
  return a.prefixLen <= b.prefixLen ? contains(a, b.network) : contains(b, a.network);
}

/** `a` lies entirely within `b`. */
export function within(a: Cidr4, b: Cidr4): boolean {
  return a.prefixLen >= b.prefixLen && contains(b, a.network);
}

export function isLoopback(ip: Ip4): boolean {
  return ip >>> 24 === 127;
}

/** Splits `base` into consecutive prefixes of length `len` (Docker's default-address-pools `{base, size}`). */
export function* subdivide(base: Cidr4, len: number): Generator<Cidr4> {
  if (len < base.prefixLen) throw new InvalidArgumentError(`cannot split ${formatCidr4(base)} into /${len} subnets`);
  const step = 2 ** (32 - len);
  for (let n = base.network; n <= broadcast(base); n += step) yield { network: n >>> 0, prefixLen: len };
}
