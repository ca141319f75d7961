import { readFileSync } from 'node:fs';
import type { Cidr4 } from './ipv4.ts';

/**
 * The IPv4 prefixes the host already routes (main table, from /proc/net/route, default route excluded), so a
 * network chosen from the default pools never shadows a LAN or another daemon's bridge.
 */
export function hostRoutes(file = '/proc/net/route'): (Cidr4 & { iface: string })[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: (Cidr4 & { iface: string })[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1]!);
    const mask = leHex(f[7]!);
    if (mask === 0) continue;
    out.push({ network: (dest & mask) >>> 0, prefixLen: popcount(mask), iface: f[0]! });
  }
  return out;
}

function leHex(h: string): number {
  const n = parseInt(h, 16);
  return (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | ((n >>> 24) & 0xff)) >>> 0;
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x; x = (x & (x - 1)) >>> 0) c++;
  return c;
}
