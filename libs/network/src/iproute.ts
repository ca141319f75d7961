// Links and addresses through iproute2's `ip` (one process per batch; `ip -batch -` takes many commands).
import { randomBytes } from 'node:crypto';
import { runTool } from './exec.ts';

export interface LinkInfo {
  ifname: string;
  master?: string;
  linkKind?: string;
  address?: string;
  mtu?: number;
  operstate?: string;
}

/** The links of the current network namespace, with their kind (`bridge`, `veth`, …) and master. */
export async function listLinks(): Promise<LinkInfo[]> {
  const r = await runTool('ip', ['-j', '-d', 'link', 'show'], { what: 'list network interfaces' });
  const raw = JSON.parse(r.stdout || '[]') as { ifname: string; master?: string; address?: string; mtu?: number; operstate?: string; linkinfo?: { info_kind?: string } }[];
  return raw.map((l) => ({
    ifname: l.ifname,
    ...(l.master ? { master: l.master } : {}),
    ...(l.linkinfo?.info_kind ? { linkKind: l.linkinfo.info_kind } : {}),
    ...(l.address ? { address: l.address } : {}),
    ...(l.mtu ? { mtu: l.mtu } : {}),
    ...(l.operstate ? { operstate: l.operstate } : {}),
  }));
}

/** IPv4 addresses (`a.b.c.d/len`) per interface. */
export async function listAddresses(dev?: string): Promise<Map<string, string[]>> {
  const r = await runTool('ip', ['-j', '-4', 'addr', 'show', ...(dev ? ['dev', dev] : [])], { check: !dev, what: 'list addresses' });
  const out = new Map<string, string[]>();
  if (r.code !== 0) return out;
  for (const l of JSON.parse(r.stdout || '[]') as { ifname: string; addr_info?: { local: string; prefixlen: number }[] }[]) {
    out.set(l.ifname, (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
  }
  return out;
}

/** Runs `ip` commands (one per line, without the leading `ip`) in one process; fails on the first error unless `force`. */
export async function ipBatch(lines: string[], what: string, force = false): Promise<void> {
  if (lines.length === 0) return;
  await runTool('ip', [...(force ? ['-force'] : []), '-batch', '-'], { input: `${lines.join('\n')}\n`, what, check: !force });
}

/** A locally administered unicast MAC; `02:42:` + the IPv4 address when one is given, as Docker derives it. */
export function macAddress(ipv4?: string): string {
  const bytes = ipv4 ? ipv4.split('.').map(Number) : [...randomBytes(4)];
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** A host-side veth name as Docker makes them: `veth` + 7 hex digits (interface names are at most 15 chars). */
export function vethName(): string {
  return `veth${randomBytes(4).toString('hex').slice(0, 7)}`;
}

/** Creates (or completes) a bridge with its gateway address, up. */
export async function ensureBridge(name: string, gatewayCidr: string, mtu: number): Promise<void> {
  const addrs = await listAddresses(name);
  if (!addrs.has(name)) {
    await ipBatch([
      `link add ${name} mtu ${mtu} address ${macAddress()} type bridge`,
      `addr add ${gatewayCidr} dev ${name}`,
      `link set ${name} up`,
    ], `create bridge ${name}`);
    return;
  }
  const lines: string[] = [];
  if (!addrs.get(name)!.includes(gatewayCidr)) lines.push(`addr add ${gatewayCidr} dev ${name}`);
  lines.push(`link set ${name} up`);
  await ipBatch(lines, `configure bridge ${name}`);
}

/** Deletes links, ignoring the ones already gone. */
export async function deleteLinks(names: string[]): Promise<void> {
  await ipBatch(names.map((n) => `link del ${n}`), `delete ${names.join(', ')}`, true);
}
