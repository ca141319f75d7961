// Direct delivery between the containers of one bridge network. A frame a container sends to another
// container's MAC address on the same network is handed by tc straight to that container's veth, skipping the
// bridge and, with it, br_netfilter: conntrack and every FORWARD rule on the host (ours, dockerd's, a user's)
// would otherwise run on each such packet. Everything else (ARP and broadcasts, frames to the gateway, hence
// routed, DNATed and outbound traffic) still goes through the bridge.
//
// The host ends of a network's veths share one tc block on ingress. In it, one u32 classifier (preference 1)
// hashes a frame's last destination MAC byte into 256 buckets; an entry per container matches its whole MAC and
// redirects to its host veth (egress, so into the container). Entry handles are derived from the MAC, so each is
// added and deleted exactly, and what an earlier holder of a MAC left behind sits where its next one goes. A
// block lives as long as a veth is bound to it: the kernel drops it with the network's last veth.
//
// Only where the bridge would pass the frame unchanged: with inter-container communication on (icc=false needs
// the FORWARD rule that drops it) and with the userland proxy (without it, a DNATed connection between two
// containers of one network needs the bridge's conntrack to translate the replies).
import { readFileSync } from 'node:fs';
import { runTool } from './exec.ts';
import type { Logger } from './logger.ts';
import type { NetworkRecord } from './types.ts';

/** One container's port on a network, as the block needs it. */
export interface DirectPort {
  /** Host end of the veth pair. */
  hostIf: string;
  mac: string;
}

const PREF = 1;
/** The hash table of container entries (`1:`); the classifier's root table is the kernel's `800:`. */
const TABLE = 1;

/**
 * The entry's u32 handle `1:<bucket>:<node>`: bucket = the MAC's last byte, node (12 bits) from the two before it.
 * MACs made from addresses (`02:42:` + IPv4) of one network of /13 or smaller never share a handle.
 */
export function entryHandle(p: DirectPort): string | undefined {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(p.mac)) return undefined;
  const b = p.mac.toLowerCase().split(':').map((x) => parseInt(x, 16));
  const node = ((((b[3]! & 0xf) << 8) | b[4]!) % 0xfff) + 1;
  return `${TABLE.toString(16)}:${b[5]!.toString(16).padStart(2, '0')}:${node.toString(16)}`;
}

/**
 * Lines for `tc -batch` binding a new host veth to `block`, making sure the block's tables exist, and adding its
 * entry in place of any left at its handle (a failed operation's, or a colliding port's, which then takes the bridge).
 */
export function attachLines(block: number, p: DirectPort): string[] {
  return [bindLine(block, p), ...baseLines(block), ...detachLines(block, p), ...entryLines(block, p)];
}

/** Lines removing a port's entry (its veth's binding goes with the veth). */
export function detachLines(block: number, p: DirectPort): string[] {
  const handle = entryHandle(p);
  return handle ? [`filter del block ${block} pref ${PREF} protocol all handle ${handle} u32`] : [];
}

/** Lines rebuilding a block from scratch for `ports` (after a restart: what a crash may have left is dropped). */
export function resyncLines(block: number, ports: DirectPort[]): string[] {
  if (ports.length === 0) return [];
  return [
    ...ports.map((p) => bindLine(block, p)),
    `filter del block ${block}`,
    ...baseLines(block),
    ...ports.flatMap((p) => entryLines(block, p)),
  ];
}

/** Lines unbinding veths from direct delivery (a network where it is off). */
export function unbindLines(ports: DirectPort[]): string[] {
  return ports.map((p) => `qdisc del dev ${p.hostIf} ingress`);
}

function bindLine(block: number, p: DirectPort): string {
  return `qdisc add dev ${p.hostIf} ingress_block ${block} ingress`;
}

function baseLines(block: number): string[] {
  return [
    `filter add block ${block} pref ${PREF} protocol all handle ${TABLE}: u32 divisor 256`,
    `filter add block ${block} pref ${PREF} protocol all handle 800::1 u32 ht 800:: match u32 0 0 hashkey mask 0x000000ff at -12 link ${TABLE}:`,
  ];
}

function entryLines(block: number, p: DirectPort): string[] {
  const handle = entryHandle(p);
  if (!handle) return [];
  const ht = handle.slice(0, handle.lastIndexOf(':') + 1);
  return [`filter add block ${block} pref ${PREF} protocol all handle ${handle} u32 ht ${ht} match ether dst ${p.mac} action mirred egress redirect dev ${p.hostIf}`];
}

/**
 * The block of a bridge's veths: the bridge's interface index, unique on the host while the bridge exists (a
 * recreated bridge gets a new one, and a restart rebuilds the blocks).
 */
export function blockOf(bridge: string): number | undefined {
  try {
    const n = Number(readFileSync(`/sys/class/net/${bridge}/ifindex`, 'utf8'));
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** An entry of a bridge's block as the kernel reports it: the veth it redirects to, the MAC it matches, bytes sent. */
export interface DirectEntry {
  dev: string;
  mac: string;
  bytes: number;
}

/** The entries of `bridge`'s block (`tc -s filter show block N`, parsed); none when the block does not exist. */
export async function directEntries(bridge: string): Promise<DirectEntry[]> {
  const block = blockOf(bridge);
  if (block === undefined) return [];
  const r = await runTool('tc', ['-s', 'filter', 'show', 'block', String(block)], { check: false, what: 'list direct delivery entries' });
  const found: DirectEntry[] = [];
  for (const part of r.stdout.split(/\n(?=filter )/)) {
    const dev = /Redirect to device (\S+)\)/.exec(part)?.[1];
    const hi = /match 0000([0-9a-f]{4})\/0000ffff at -16/.exec(part)?.[1];
    const lo = /match ([0-9a-f]{8})\/ffffffff at -12/.exec(part)?.[1];
    if (!dev || !hi || !lo) continue;
    found.push({ dev, mac: `${hi}${lo}`.replace(/(..)(?!$)/g, '$1:'), bytes: Number(/Sent (\d+) bytes/.exec(part)?.[1] ?? 0) });
  }
  return found;
}

/** Runs `lines` in one `tc -force -batch`; returns the 1-based numbers of the lines that failed. */
export async function tcBatch(lines: string[]): Promise<number[]> {
  if (lines.length === 0) return [];
  const r = await runTool('tc', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, check: false, what: 'configure direct delivery' });
  if (r.code === 0) return [];
  const failed = [...r.stderr.matchAll(/Command failed -:(\d+)/g)].map((m) => Number(m[1]));
  // A failure tc did not attribute to a line (it could not run at all): every line counts as failed.
  return failed.length ? failed : lines.map((_, i) => i + 1);
}

/**
 * How long a new container's entries wait before tc adds them. Kept off the paths a user waits on (starting a
 * container, connecting it), batched with the other containers started meanwhile, and never made for containers
 * that are gone by then (`docker run --rm … true`); until then their frames take the bridge.
 */
export const ATTACH_DELAY_MS = 100;

/**
 * Direct delivery on this host: which networks get it, and the tc work when their containers come and go. A
 * missing entry only costs speed (the frames take the bridge), so failures are logged, not thrown.
 */
export class DirectDelivery {
  private readonly enabled: boolean;
  private readonly log: Logger;
  /** The tc work runs in the order asked (an entry's deletion never overtakes its addition); it never rejects. */
  private tail: Promise<void> = Promise.resolve();
  /** Attach lines waiting for ATTACH_DELAY_MS, by host veth. */
  private readonly pending = new Map<string, string[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(enabled: boolean, log: Logger) {
    this.enabled = enabled;
    this.log = log;
  }

  /** Whether frames between the containers of `net` may skip its bridge. */
  eligible(net: NetworkRecord): boolean {
    return this.enabled && !!net.bridge && net.bridge.icc && net.bridge.directDelivery !== false;
  }

  /** New veths of `ports` (each on the bridge of its `net`): bound to their network's block with their entries, soon. */
  attach(ports: { net: NetworkRecord; port: DirectPort }[]): void {
    for (const { net, port } of ports) {
      const lines = this.linesFor(net, port, attachLines);
      if (lines.length) this.pending.set(port.hostIf, lines);
    }
    if (this.pending.size && !this.timer) {
      this.timer = setTimeout(() => void this.flush(), ATTACH_DELAY_MS);
      this.timer.unref();
    }
  }

  /**
   * Entries of ports going away (before or while their veths are deleted); their addresses are free once it
   * resolves. A port still waiting for its entry never gets one. An entry may be gone already: the block goes with
   * its last veth. One that stays (it points at a deleted veth and drops what it matches) is replaced by the next
   * attach of its MAC, or by a restart.
   */
  detach(ports: { net: NetworkRecord; port: DirectPort }[]): Promise<void> {
    const lines: string[] = [];
    for (const { net, port } of ports) {
      if (this.pending.delete(port.hostIf)) continue;
      lines.push(...this.linesFor(net, port, detachLines));
    }
    return lines.length ? this.queue(lines, () => true, 'remove containers') : Promise.resolve();
  }

  /** Resolves once the entries asked for so far are in (waiting ones are added now). */
  settled(): Promise<void> {
    return this.flush();
  }

  /** Drops the waiting attaches (the daemon stops; the next start's resync adds what is still attached). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  /** After a restart: every network's block rebuilt from its records, or unbound where direct delivery is off. */
  async resync(networks: { net: NetworkRecord; ports: DirectPort[] }[]): Promise<void> {
    const lines: string[] = [];
    for (const { net, ports } of networks) {
      const block = net.bridge ? blockOf(net.bridge.name) : undefined;
      if (block === undefined || ports.length === 0) continue;
      lines.push(...(this.eligible(net) ? resyncLines(block, ports) : unbindLines(ports)));
    }
    // Binding an already bound veth, flushing an empty block or unbinding an unbound one fail harmlessly.
    await this.queue(lines, (l) => l.startsWith('qdisc ') || /^filter del block \d+$/.test(l), 'rebuild after restart');
  }

  /** The waiting attaches, in one tc process. */
  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const lines = [...this.pending.values()].flat();
    this.pending.clear();
    // The block's tables are there already unless this is its first veth; usually no entry is there to delete.
    return this.queue(lines, (l) => l.includes(' divisor ') || l.includes(' link ') || l.startsWith('filter del '), 'add containers');
  }

  private linesFor(net: NetworkRecord, port: DirectPort, make: (block: number, p: DirectPort) => string[]): string[] {
    if (!this.eligible(net)) return [];
    const block = blockOf(net.bridge!.name);
    return block === undefined ? [] : make(block, port);
  }

  private queue(lines: string[], tolerated: (line: string) => boolean, what: string): Promise<void> {
    if (lines.length === 0) return this.tail;
    this.tail = this.tail.then(() => this.apply(lines, tolerated, what));
    return this.tail;
  }

  private async apply(lines: string[], tolerated: (line: string) => boolean, what: string): Promise<void> {
    let failed: number[];
    try {
      failed = await tcBatch(lines);
    } catch (err) {
      this.log.warn({ err }, `direct delivery: cannot ${what}`);
      return;
    }
    const real = failed.map((n) => lines[n - 1] ?? '').filter((l) => !tolerated(l));
    if (real.length) this.log.warn({ lines: real }, `direct delivery: cannot ${what}; their frames take the bridge`);
  }
}
