// berth's iptables rules, rendered from the desired state as iptables-restore input. Every rule lives in
// berth's own chains (named with a per-daemon prefix, so several daemons can share a host); the built-in
// chains only get one jump each. A sync declares each chain (which flushes it under --noflush) and refills it
// in one transaction per table, so the kernel never holds half a rule set.

export interface NetworkRules {
  bridge: string;
  /** `a.b.c.d/len` */
  subnet: string;
  gateway: string;
  internal: boolean;
  /** Inter-container communication on this bridge. */
  icc: boolean;
  /** Masquerade traffic leaving the bridge for elsewhere. */
  masquerade: boolean;
  /** The embedded DNS server's port on the gateway address (UDP and TCP), if it listens there. */
  dnsPort?: number;
}

export interface PortRule {
  bridge: string;
  proto: 'tcp' | 'udp' | 'sctp';
  /** `0.0.0.0` for every address. */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

export interface RulesModel {
  networks: NetworkRules[];
  ports: PortRule[];
  /**
   * Containers reaching a published port through the host go through berthd's proxy (Docker's default); without
   * it, DNAT with hairpin masquerading.
   */
  userlandProxy: boolean;
  /**
   * Connections from the host to 127.0.0.1:published are DNATed too (the bridges route 127/8: route_localnet,
   * with a rule refusing such packets from containers); else only the proxy serves loopback.
   */
  loopbackDnat: boolean;
}

export interface ChainNames {
  forward: string;
  isolation: string;
  isolation2: string;
  input: string;
  dnat: string;
  postrouting: string;
}

/** Chain names for a prefix (≤ 18 chars keeps every name within iptables' 28). */
export function chainNames(prefix: string): ChainNames {
  return {
    forward: `${prefix}-FORWARD`,
    isolation: `${prefix}-ISOLATION`,
    isolation2: `${prefix}-ISOLATION2`,
    input: `${prefix}-INPUT`,
    dnat: `${prefix}-DNAT`,
    postrouting: `${prefix}-POSTROUTING`,
  };
}

/** The jumps from built-in chains: `[table, chain, rule spec]`; each is inserted at the top once. */
export function jumpRules(c: ChainNames, loopbackDnat: boolean): [string, string, string][] {
  return [
    ['filter', 'FORWARD', `-j ${c.forward}`],
    ['filter', 'INPUT', `-j ${c.input}`],
    ['nat', 'PREROUTING', `-m addrtype --dst-type LOCAL -j ${c.dnat}`],
    ['nat', 'OUTPUT', loopbackDnat ? `-m addrtype --dst-type LOCAL -j ${c.dnat}` : `! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j ${c.dnat}`],
    ['nat', 'POSTROUTING', `-j ${c.postrouting}`],
  ];
}

const host = (ip: string) => (ip === '0.0.0.0' ? '' : ` -d ${ip}/32`);

/**
 * iptables-restore input (for `--noflush`) that makes berth's chains of `tables` exactly `m`, and inserts the
 * missing jumps from built-in chains (`insertJumps`, see jumpRules) in the same transaction. Published ports only
 * touch the nat table (the filter table accepts whatever our DNAT rules let in), so they need only `['nat']`.
 */
export function renderRules(c: ChainNames, m: RulesModel, insertJumps: [string, string, string][] = [], tables = ['filter', 'nat']): string {
  return [tables.includes('filter') ? renderFilter(c, m, insertJumps) : '', tables.includes('nat') ? renderNat(c, m, insertJumps) : ''].join('');
}

function renderFilter(c: ChainNames, m: RulesModel, insertJumps: [string, string, string][]): string {
  const f: string[] = ['*filter'];
  for (const name of [c.forward, c.isolation, c.isolation2, c.input]) f.push(`:${name} - [0:0]`);
  for (const [table, chain, spec] of insertJumps) if (table === 'filter') f.push(`-I ${chain} 1 ${spec}`);
  // Traffic between containers of one bridge (with icc) is accepted first, on its interfaces alone: bulk
  // container-to-container packets skip the isolation chain and the conntrack matches (cheaper per packet).
  for (const n of m.networks) if (n.icc) f.push(`-A ${c.forward} -i ${n.bridge} -o ${n.bridge} -j ACCEPT`);
  f.push(`-A ${c.forward} -j ${c.isolation}`);
  for (const n of m.networks) {
    const b = n.bridge;
    f.push(`-A ${c.isolation} -i ${b} ! -o ${b} -j ${c.isolation2}`);
    f.push(`-A ${c.isolation2} -o ${b} -j DROP`);
    if (n.internal) {
      f.push(`-A ${c.forward} -i ${b} ! -o ${b} -j DROP`);
      f.push(`-A ${c.forward} ! -i ${b} -o ${b} -j DROP`);
    } else {
      f.push(`-A ${c.forward} -o ${b} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
      // Published ports: only connections a DNAT rule made; routing straight to a container from outside stays closed.
      f.push(`-A ${c.forward} ! -i ${b} -o ${b} -m conntrack --ctstate DNAT -j ACCEPT`);
      f.push(`-A ${c.forward} -i ${b} ! -o ${b} -j ACCEPT`);
    }
    if (!n.icc) f.push(`-A ${c.forward} -i ${b} -o ${b} -j DROP`);
    if (!n.internal) f.push(`-A ${c.forward} ! -i ${b} -o ${b} -j DROP`);
    if (n.dnsPort) {
      f.push(`-A ${c.input} -i ${b} -d ${n.gateway}/32 -p udp -m udp --dport ${n.dnsPort} -j ACCEPT`);
      f.push(`-A ${c.input} -i ${b} -d ${n.gateway}/32 -p tcp -m tcp --dport ${n.dnsPort} -j ACCEPT`);
    }
    // With loopback DNAT the bridge routes 127/8 (route_localnet): refuse new connections from containers to
    // the host's loopback (replies to the host's DNATed connections are established and pass).
    if (m.loopbackDnat) f.push(`-A ${c.input} -i ${b} -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP`);
  }
  f.push('COMMIT');
  return `${f.join('\n')}\n`;
}

function renderNat(c: ChainNames, m: RulesModel, insertJumps: [string, string, string][]): string {
  const byBridge = new Map(m.networks.map((n) => [n.bridge, n]));
  const n: string[] = ['*nat'];
  for (const name of [c.dnat, c.postrouting]) n.push(`:${name} - [0:0]`);
  for (const [table, chain, spec] of insertJumps) if (table === 'nat') n.push(`-I ${chain} 1 ${spec}`);
  for (const net of m.networks) {
    if (net.internal) continue;
    // Same-bridge traffic to a published port goes to the proxy (hairpin), as with Docker's userland proxy.
    if (m.userlandProxy) n.push(`-A ${c.dnat} -i ${net.bridge} -j RETURN`);
    if (net.masquerade) n.push(`-A ${c.postrouting} -s ${net.subnet} ! -o ${net.bridge} -j MASQUERADE`);
    // Loopback sources cannot leave the host: DNATed loopback connections take the bridge's address.
    if (m.loopbackDnat) n.push(`-A ${c.postrouting} -s 127.0.0.0/8 -o ${net.bridge} -j MASQUERADE`);
  }
  for (const p of m.ports) {
    const net = byBridge.get(p.bridge);
    if (!net || net.internal) continue;
    const notIn = m.userlandProxy ? ` ! -i ${p.bridge}` : '';
    n.push(`-A ${c.dnat}${host(p.hostIp)}${notIn} -p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${p.containerIp}:${p.containerPort}`);
    if (!m.userlandProxy) {
      n.push(`-A ${c.postrouting} -s ${p.containerIp}/32 -d ${p.containerIp}/32 -p ${p.proto} -m ${p.proto} --dport ${p.containerPort} -j MASQUERADE`);
    }
  }
  n.push('COMMIT');
  return `${n.join('\n')}\n`;
}

/** iptables-restore input (for `--noflush`) that removes the jumps given and then every chain of `c`. */
export function renderPurge(c: ChainNames, jumps: [string, string, string][], existing: Set<string>): string {
  const out: string[] = [];
  for (const table of ['filter', 'nat']) {
    const chains = table === 'filter' ? [c.forward, c.isolation, c.isolation2, c.input] : [c.dnat, c.postrouting];
    const present = chains.filter((ch) => existing.has(`${table}:${ch}`));
    const dels = jumps.filter(([t]) => t === table);
    if (present.length === 0 && dels.length === 0) continue;
    out.push(`*${table}`);
    for (const [, chain, spec] of dels) out.push(`-D ${chain} ${spec}`);
    for (const ch of present) out.push(`-F ${ch}`);
    for (const ch of present) out.push(`-X ${ch}`);
    out.push('COMMIT');
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
