// The kernel side of a sandbox, done by one shell script per operation run inside the container's network
// namespace (`unshare --net=FILE` to create it, `nsenter --net=FILE` to change it). The host ends of veth pairs
// are made from inside the script by entering the daemon's own namespace again, so creating a sandbox costs one
// process spawn from Node whatever the number of endpoints. Attaching to or detaching from a further network
// runs `ip` directly (see changeNamespace): fewer programs, and spawns from Node are cheap (posix_spawn).
import { runTool } from './exec.ts';
import { EMBEDDED_DNS_ADDRESS } from './resolv-conf.ts';

export interface Plug {
  hostIf: string;
  ifname: string;
  bridge: string;
  mtu: number;
  mac: string;
  /** `a.b.c.d/len` */
  cidr: string;
  /** Let the bridge send frames back out of this port (DNAT hairpin without the userland proxy). */
  hairpin?: boolean;
}

export interface PlumbingChange {
  /** New namespace: bring `lo` up (and install the DNS chains if `dns` is given). */
  fresh?: boolean;
  /** Install the embedded DNS chains and their jumps (the first time `dns` is set in this namespace). */
  dnsInit?: boolean;
  plug?: Plug[];
  /** Interfaces inside the namespace to delete (their host peers go with them). */
  unplug?: string[];
  /** Default route: set via `{gateway, dev}`; `null` removes it; undefined leaves it. */
  defaultRoute?: { gateway: string; dev: string } | null;
  /** Embedded DNS translation to `gateway:port`, from `source`; `null` removes it; undefined leaves it. */
  dns?: { gateway: string; port: number; source: string } | null;
}

const DNS_OUT = 'BERTH-DNS-OUTPUT';
const DNS_POST = 'BERTH-DNS-POSTROUTING';
const DNS_RAW = 'BERTH-DNS-RAW';

function heredoc(cmd: string, lines: string[]): string {
  return lines.length ? `${cmd} <<'BERTH_EOF'\n${lines.join('\n')}\nBERTH_EOF\n` : '';
}

/** `ip -batch` lines run in the daemon's namespace: the veth pairs, their inside ends moved into `netnsPath`. */
function hostLinkLines(netnsPath: string, c: PlumbingChange): string[] {
  return (c.plug ?? []).flatMap((p) => [
    `link add ${p.hostIf} mtu ${p.mtu} master ${p.bridge} up type veth peer name ${p.ifname} mtu ${p.mtu} address ${p.mac} netns ${netnsPath}`,
    ...(p.hairpin ? [`link set ${p.hostIf} type bridge_slave hairpin on`] : []),
  ]);
}

/** `ip -batch` lines run inside the namespace. */
function insideLines(c: PlumbingChange): string[] {
  const inside: string[] = [];
  if (c.fresh) inside.push('link set lo up');
  for (const dev of c.unplug ?? []) inside.push(`link del ${dev}`);
  for (const p of c.plug ?? []) inside.push(`addr add ${p.cidr} dev ${p.ifname}`, `link set ${p.ifname} up`);
  if (c.defaultRoute) inside.push(`route replace default via ${c.defaultRoute.gateway} dev ${c.defaultRoute.dev}`);
  return inside;
}

/** The script for one change, to run by `sh -e` inside the namespace `netnsPath`. */
export function plumbingScript(netnsPath: string, c: PlumbingChange, iptablesRestore: string): string {
  let s = '';
  // No network here is IPv6: like dockerd, a new sandbox has IPv6 off on every interface (lo included, and the
  // ones moved in later through `default`), so containers show no ::1 or fe80:: addresses.
  if (c.fresh) {
    s += '[ ! -d /proc/sys/net/ipv6 ] || { echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; }\n';
  }
  s += heredoc(`nsenter --net=/proc/${process.pid}/ns/net ip -batch -`, hostLinkLines(netnsPath, c));
  s += heredoc('ip -batch -', insideLines(c));
  // Removing a default route that may not exist must not fail the script.
  if (c.defaultRoute === null) s += 'ip route del default 2>/dev/null || true\n';
  if (c.dns !== undefined) {
    // 127.0.0.11 is translated to the network's gateway, where berthd answers; the source must become the
    // container's address on that network, and replies come back to 127/8 (route_localnet). Packets to
    // 127/8 arriving from outside are dropped before anything else sees them.
    const init = c.fresh || c.dnsInit;
    if (init) s += 'echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet\n';
    const nat = ['*nat', `:${DNS_OUT} - [0:0]`, `:${DNS_POST} - [0:0]`];
    if (init) nat.push(`-A OUTPUT -d ${EMBEDDED_DNS_ADDRESS}/32 -j ${DNS_OUT}`, `-A POSTROUTING -j ${DNS_POST}`);
    if (c.dns) {
      for (const proto of ['udp', 'tcp']) {
        nat.push(`-A ${DNS_OUT} -p ${proto} -m ${proto} --dport 53 -j DNAT --to-destination ${c.dns.gateway}:${c.dns.port}`);
      }
      nat.push(`-A ${DNS_POST} -s 127.0.0.0/8 -d ${c.dns.gateway}/32 -j SNAT --to-source ${c.dns.source}`);
    }
    nat.push('COMMIT');
    if (init) nat.push('*raw', `:${DNS_RAW} - [0:0]`, `-A PREROUTING -j ${DNS_RAW}`, `-A ${DNS_RAW} ! -i lo -d 127.0.0.0/8 -j DROP`, 'COMMIT');
    s += heredoc(`${iptablesRestore} -w --noflush`, nat);
  }
  return s;
}

/** Creates the namespace file `netnsPath` (which must exist, empty) and applies `change` inside it. */
export async function createNamespace(netnsPath: string, change: PlumbingChange, iptablesRestore: string): Promise<void> {
  await runTool('unshare', [`--net=${netnsPath}`, 'sh', '-e'], {
    input: plumbingScript(netnsPath, { ...change, fresh: true }, iptablesRestore),
    what: `set up network namespace ${netnsPath}`,
  });
}

/**
 * Applies `change` inside the existing namespace `netnsPath`. Plugging and unplugging interfaces alone (a
 * container attached to or detached from a further network) skips the shell: `ip -batch` here for the veth pairs,
 * then `nsenter ip -batch` inside, three programs instead of five. Changes to the default route's removal or to
 * the DNS translation go through the script.
 */
export async function changeNamespace(netnsPath: string, change: PlumbingChange, iptablesRestore: string): Promise<void> {
  if (change.dns === undefined && change.defaultRoute !== null && !change.fresh && !change.dnsInit) {
    const host = hostLinkLines(netnsPath, change);
    const inside = insideLines(change);
    if (host.length) await runTool('ip', ['-batch', '-'], { input: `${host.join('\n')}\n`, what: `add interfaces for ${netnsPath}` });
    if (inside.length) {
      await runTool('nsenter', [`--net=${netnsPath}`, 'ip', '-batch', '-'], { input: `${inside.join('\n')}\n`, what: `change network namespace ${netnsPath}` });
    }
    return;
  }
  const script = plumbingScript(netnsPath, change, iptablesRestore);
  if (!script) return;
  await runTool('nsenter', [`--net=${netnsPath}`, 'sh', '-e'], { input: script, what: `change network namespace ${netnsPath}` });
}
