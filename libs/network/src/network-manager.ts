// The network manager: Docker's networks and each container's network stack on one host. It owns the records
// under its root, the Linux bridges, the namespaces under `<exec-root>/netns`, the iptables chains named with
// its prefix, the tc blocks of its veths (direct delivery), the userland proxies and the embedded DNS listeners,
// and rebuilds all of it from its records when it opens (a daemon restart with containers still running keeps
// their namespaces and addresses).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConflictError, FailedPreconditionError, PermissionDeniedError, wrap } from '@berth/errdefs';
import { DirectDelivery } from './direct-delivery.ts';
import { EmbeddedDns } from './dns-server.ts';
import { runTool } from './exec.ts';
import { Firewall } from './firewall.ts';
import { hostRoutes } from './host-routes.ts';
import { DEFAULT_POOLS, type PoolBase } from './ipam.ts';
import { parseCidr4, parseIp4, type Cidr4 } from './ipv4.ts';
import type { IptablesVariant } from './iptables.ts';
import { deleteLinks, ensureBridge, listAddresses, listLinks } from './iproute.ts';
import { silentLogger, type Logger } from './logger.ts';
import {
  bridgeNetworkRecord, defaultBridgeRecord, predefinedHost, predefinedNone, type AddressContext, type DefaultBridgeOptions,
} from './network-config.ts';
import { NetnsDir } from './netns.ts';
import { Registry } from './registry.ts';
import { readResolvConf, type ResolvConf } from './resolv-conf.ts';
import type { RulesModel } from './rules.ts';
import { Sandboxes } from './sandboxes.ts';
import { NetworkStore } from './store.ts';
import type { CreateNetworkRequest, EndpointRecord, EndpointRequest, NetworkRecord, SandboxInfo, SandboxSpec } from './types.ts';

export interface NetworkManagerOptions {
  /** Where network and sandbox records live (berthd: `<data-root>/network`). */
  root: string;
  /** Runtime files: namespaces in `<execRoot>/netns` (berthd: `--exec-root`). */
  execRoot: string;
  /** The default `bridge` network (dockerd's `--bridge`/`--bip`/`--fixed-cidr`/`--mtu`/`--icc`/`--ip-masq`/`--ip`); `null`: none. */
  defaultBridge?: DefaultBridgeOptions | null;
  /** Docker's `default-address-pools`: `{base: 'a.b.c.d/n', size}`. */
  defaultAddressPools?: { base: string; size: number }[];
  /** Manage iptables rules (dockerd's `--iptables`), default true. */
  iptables?: boolean;
  /** Turn on the host's IPv4 forwarding if it is off (dockerd's `--ip-forward`), default true. */
  ipForward?: boolean;
  iptablesVariant?: IptablesVariant;
  /** Containers reach published ports through the host via a proxy (dockerd's `--userland-proxy`), default true. */
  userlandProxy?: boolean;
  /**
   * Frames between the containers of one bridge network skip the bridge and its netfilter hooks (tc redirects,
   * see direct-delivery.ts), default true; only with the userland proxy, on networks with icc.
   */
  directDelivery?: boolean;
  /** Host connections to 127.0.0.1:published are DNATed (faster than the proxy), default true. */
  loopbackDnat?: boolean;
  /** Prefix of berth's iptables chains; default `BERTH` for `/run/berth`, else derived from the exec root. */
  chainPrefix?: string;
  /** The host's resolver configuration, default `/etc/resolv.conf`. */
  resolvConfPath?: string;
  /** The host's hosts file (copied for `--network host`), default `/etc/hosts`. */
  hostsPath?: string;
  /** Daemon-wide `--dns`, `--dns-search`, `--dns-opt`. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** Default MTU of new networks, default 1500. */
  mtu?: number;
  logger?: Logger;
}

export class NetworkManager {
  private readonly opts: NetworkManagerOptions;
  private readonly log: Logger;
  private readonly reg: Registry;
  private readonly store: NetworkStore;
  private readonly netns: NetnsDir;
  private readonly firewall: Firewall;
  private readonly dnsServer: EmbeddedDns;
  private readonly sandboxes: Sandboxes;
  private readonly direct: DirectDelivery;
  private readonly pools: PoolBase[];
  private readonly mtu: number;
  private resolvCache: { at: number; conf: ResolvConf } | undefined;
  private closed = false;

  /** Without the proxy, loopback must be DNATed; with it, by default too (kernel speed), unless turned off. */
  private get loopbackDnat(): boolean {
    return (this.opts.iptables ?? true) && (!(this.opts.userlandProxy ?? true) || (this.opts.loopbackDnat ?? true));
  }

  private constructor(opts: NetworkManagerOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
    this.mtu = opts.mtu ?? 1500;
    this.pools = (opts.defaultAddressPools ?? []).map((p) => ({ base: parseCidr4(p.base, true), size: p.size }));
    if (this.pools.length === 0) this.pools.push(...DEFAULT_POOLS);
    this.reg = new Registry(() => this.hostResolvConf(), opts.dns ?? []);
    this.store = new NetworkStore(opts.root, this.log);
    this.netns = new NetnsDir(path.join(opts.execRoot, 'netns'));
    this.dnsServer = new EmbeddedDns(this.reg, this.log);
    this.firewall = new Firewall({
      enabled: opts.iptables ?? true,
      variant: opts.iptablesVariant ?? 'auto',
      prefix: opts.chainPrefix ?? defaultChainPrefix(opts.execRoot),
      loopbackDnat: this.loopbackDnat,
      model: () => this.rulesModel(),
    });
    this.direct = new DirectDelivery((opts.directDelivery ?? true) && (opts.userlandProxy ?? true), this.log);
    this.sandboxes = new Sandboxes({
      reg: this.reg, store: this.store, netns: this.netns, firewall: this.firewall, log: this.log,
      hostResolv: () => this.hostResolvConf(), hostsPath: opts.hostsPath ?? '/etc/hosts',
      daemonDns: { dns: opts.dns ?? [], dnsSearch: opts.dnsSearch ?? [], dnsOptions: opts.dnsOptions ?? [] },
      hairpin: !(opts.userlandProxy ?? true),
      direct: this.direct,
    });
  }

  /** Loads the records, (re)creates bridges, rules, proxies and DNS listeners, and removes strays. */
  static async open(opts: NetworkManagerOptions): Promise<NetworkManager> {
    const m = new NetworkManager(opts);
    await m.start();
    return m;
  }

  /** The names of berth's iptables chains on this host. */
  get chains(): Firewall['chains'] {
    return this.firewall.chains;
  }

  // ---- networks ------------------------------------------------------------------------------------------

  list(): NetworkRecord[] {
    return [...this.reg.networks.values()].map((n) => structuredClone(n));
  }

  /**
   * The registry's own records, not copies: for read-only hot paths (a container's network settings in `ps` and
   * inspect are built per container, and copying every network for each was most of `GET /containers/json`).
   * Callers must not modify them.
   */
  listShared(): readonly Readonly<NetworkRecord>[] {
    return [...this.reg.networks.values()];
  }

  /** Docker's lookup order: full id, exact name, then a unique id prefix. */
  get(idOrName: string): NetworkRecord {
    return structuredClone(this.reg.find(idOrName));
  }

  /** The containers attached to a network now, with their endpoints. */
  endpoints(idOrName: string): { containerId: string; containerName: string; endpoint: EndpointRecord }[] {
    return this.reg.attached(this.reg.find(idOrName).id).map(({ sb, ep }) => ({
      containerId: sb.containerId, containerName: sb.containerName, endpoint: structuredClone(ep),
    }));
  }

  async create(req: CreateNetworkRequest): Promise<NetworkRecord> {
    this.assertOpen();
    const rec = bridgeNetworkRecord(req, [...this.reg.networks.values()], this.addressContext(), { mtu: this.mtu });
    // Registered before any await, so a concurrent create of the same name or subnet sees it.
    this.reg.addNetwork(rec);
    try {
      await this.bringUp(rec);
      this.store.saveNetwork(rec);
      await this.firewall.update();
    } catch (err) {
      this.reg.removeNetwork(rec.id);
      this.store.deleteNetwork(rec.id);
      await this.bringDown(rec).catch(() => {});
      throw wrap(err, `create network ${rec.name}`);
    }
    this.log.info({ networkId: rec.id, name: rec.name, bridge: rec.bridge?.name, subnet: rec.ipam.config[0]?.subnet }, 'network created');
    return structuredClone(rec);
  }

  async remove(idOrName: string): Promise<void> {
    this.assertOpen();
    const net = this.reg.find(idOrName);
    if (net.predefined) throw new PermissionDeniedError(`${net.name} is a pre-defined network and cannot be removed`);
    const active = this.reg.attached(net.id);
    if (active.length) {
      const list = active.map(({ sb }) => `name:"${sb.containerName}" id:"${sb.containerId.slice(0, 12)}"`).join(', ');
      throw new ConflictError(`error while removing network: network ${net.name} has active endpoints (${list})`);
    }
    this.reg.removeNetwork(net.id);
    this.store.deleteNetwork(net.id);
    await this.bringDown(net);
    await this.firewall.update();
    this.log.info({ networkId: net.id, name: net.name }, 'network removed');
  }

  /** Removes the unused user-defined networks `filter` accepts; returns their names. */
  async prune(filter: (n: NetworkRecord) => boolean = () => true): Promise<string[]> {
    const removed: string[] = [];
    for (const n of [...this.reg.networks.values()]) {
      if (n.predefined || this.reg.attached(n.id).length > 0 || !filter(structuredClone(n))) continue;
      await this.remove(n.id);
      removed.push(n.name);
    }
    return removed;
  }

  // ---- sandboxes -----------------------------------------------------------------------------------------

  /** Resolves once direct delivery's entries for the stacks made or changed so far are in (else added after a delay). */
  directDeliverySettled(): Promise<void> {
    return this.direct.settled();
  }

  /** The live sandbox of a container, if it has one. */
  sandbox(containerId: string): SandboxInfo | undefined {
    const sb = this.reg.sandboxes.get(containerId);
    return sb ? this.sandboxes.info(sb) : undefined;
  }

  sandboxIds(): string[] {
    return [...this.reg.sandboxes.keys()];
  }

  /**
   * Builds a container's network stack before it starts: for bridge networks a namespace with one veth per
   * network, addresses, default route, published ports and DNS; for `none` a namespace with `lo`; for `host`
   * and `container:<id>` only the files. Nothing is left behind when it fails.
   */
  createSandbox(spec: SandboxSpec): Promise<SandboxInfo> {
    return this.sandboxes.serialize(spec.containerId, () => {
      this.assertOpen();
      return this.sandboxes.create(spec);
    });
  }

  /** Tears a container's network stack down (after it stopped): ports, DNS names, addresses, veths, namespace. */
  releaseSandbox(containerId: string): Promise<void> {
    return this.sandboxes.serialize(containerId, () => this.sandboxes.release(containerId));
  }

  /** Attaches a running container to one more network (`docker network connect`). */
  connect(containerId: string, network: string, req: EndpointRequest = {}): Promise<SandboxInfo> {
    return this.sandboxes.serialize(containerId, () => {
      this.assertOpen();
      return this.sandboxes.connect(containerId, network, req);
    });
  }

  /** Detaches a running container from a network (`docker network disconnect`). */
  disconnect(containerId: string, network: string): Promise<SandboxInfo> {
    return this.sandboxes.serialize(containerId, () => {
      this.assertOpen();
      return this.sandboxes.disconnect(containerId, network);
    });
  }

  /** A container was renamed: its DNS names and files follow. */
  rename(containerId: string, newName: string): Promise<SandboxInfo | undefined> {
    return this.sandboxes.serialize(containerId, () => this.sandboxes.rename(containerId, newName.replace(/^\//, '')));
  }

  /** After a restart: releases the sandboxes of containers that are no longer running. */
  async retain(liveContainerIds: Iterable<string>): Promise<void> {
    const live = new Set(liveContainerIds);
    for (const id of this.sandboxIds()) if (!live.has(id)) await this.releaseSandbox(id);
  }

  /**
   * Stops the proxies and DNS listeners. Kernel state stays for running containers (live restore); with no
   * namespace left (or `purge`, which releases every sandbox first) bridges and iptables chains are removed too.
   */
  async close(o: { purge?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (o.purge) for (const id of this.sandboxIds()) await this.releaseSandbox(id);
    this.closed = true;
    this.direct.close();
    await this.dnsServer.close();
    await this.sandboxes.closeAllProxies();
    const live = [...this.reg.sandboxes.values()].some((sb) => sb.netnsPath && (sb.mode === 'bridge' || sb.mode === 'none'));
    if (live) return;
    const owned = [...this.reg.networks.values()].filter((n) => n.bridge?.owned).map((n) => n.bridge!.name);
    if (owned.length) await deleteLinks(owned);
    await this.firewall.purge();
  }

  // ---- start-up and reconciliation ------------------------------------------------------------------------

  private async start(): Promise<void> {
    const records = this.store.loadNetworks();
    for (const r of records) this.reg.addNetwork(r);
    await this.ensurePredefined(records);
    if (this.opts.ipForward ?? true) switchOn('net/ipv4/ip_forward', this.log);
    for (const n of this.reg.networks.values()) await this.bringUp(n);
    await this.restoreSandboxes();
    await this.removeStrays();
    await this.direct.resync(this.sandboxes.directPorts());
    await this.firewall.install();
  }

  private async ensurePredefined(records: NetworkRecord[]): Promise<void> {
    if (!records.some((r) => r.name === 'host' && r.predefined)) this.saveNew(predefinedHost());
    if (!records.some((r) => r.name === 'none' && r.predefined)) this.saveNew(predefinedNone());
    const previous = records.find((r) => r.name === 'bridge' && r.predefined);
    if (previous) this.reg.removeNetwork(previous.id);
    const o = this.opts.defaultBridge === undefined ? { name: 'berth0' } : this.opts.defaultBridge;
    if (o === null) {
      if (previous) this.store.deleteNetwork(previous.id);
      return;
    }
    const addrs = await listAddresses(o.name);
    const exists = addrs.has(o.name);
    const address = addrs.get(o.name)?.[0];
    const current = { ...(address ? { address } : {}), owned: !exists };
    this.saveNew(defaultBridgeRecord({ mtu: this.mtu, ...o }, previous, current, this.addressContext(), { mtu: this.mtu }));
  }

  private saveNew(rec: NetworkRecord): void {
    this.reg.addNetwork(rec);
    this.store.saveNetwork(rec);
  }

  /** Bridge up with its address, and the embedded DNS listener for user-defined networks. */
  private async bringUp(n: NetworkRecord): Promise<void> {
    if (!n.bridge) return;
    const cfg = n.ipam.config[0]!;
    await ensureBridge(n.bridge.name, `${cfg.gateway}/${parseCidr4(cfg.subnet).prefixLen}`, n.bridge.mtu);
    if (this.loopbackDnat) setSysctl(`net/ipv4/conf/${n.bridge.name}/route_localnet`, '1', this.log);
    if (needsBridgeNetfilter(n, this.opts)) await enableBridgeNetfilter(this.log);
    if (n.bridge.isDefault) return;
    const port = await this.dnsServer.listen(n.id, cfg.gateway, n.bridge.dnsPort);
    if (port !== n.bridge.dnsPort) {
      const moved = n.bridge.dnsPort !== undefined;
      n.bridge.dnsPort = port;
      this.store.saveNetwork(n);
      if (moved) await this.sandboxes.repointDns(n);
    }
  }

  private async bringDown(n: NetworkRecord): Promise<void> {
    await this.dnsServer.unlisten(n.id);
    if (n.bridge?.owned) await deleteLinks([n.bridge.name]);
  }

  private async restoreSandboxes(): Promise<void> {
    const records = this.store.loadSandboxes();
    for (const sb of records.filter((r) => r.mode !== 'container')) {
      if ((sb.mode === 'bridge' || sb.mode === 'none') && (!sb.netnsPath || !this.netns.isMounted(sb.netnsPath))) {
        this.log.info({ containerId: sb.containerId }, 'network namespace gone (host restarted?): dropping its sandbox');
        this.store.deleteSandbox(sb.containerId);
        continue;
      }
      sb.endpoints = sb.endpoints.filter((ep) => this.reg.networks.has(ep.networkId));
      for (const ep of sb.endpoints) this.reg.pools.get(ep.networkId)?.restore(parseIp4(ep.ip));
      this.reg.register(sb);
    }
    for (const sb of records.filter((r) => r.mode === 'container')) {
      if (sb.sharedWith && this.reg.sandboxes.has(sb.sharedWith)) this.reg.register(sb);
      else this.store.deleteSandbox(sb.containerId);
    }
    for (const sb of this.reg.sandboxes.values()) {
      await this.sandboxes.reopenPorts(sb)
        .catch((err: unknown) => this.log.warn({ err, containerId: sb.containerId }, 'cannot re-open published ports after restart'));
    }
  }

  /** Namespaces and veths of ours that no record explains (a crash between creating and recording them). */
  private async removeStrays(): Promise<void> {
    const known = new Set([...this.reg.sandboxes.values()].map((sb) => sb.netnsPath).filter(Boolean));
    let files: string[] = [];
    try {
      files = readdirSync(this.netns.dir);
    } catch { /* no namespaces yet */ }
    for (const f of files.map((x) => this.netns.path(x)).filter((p) => !known.has(p))) {
      this.log.info({ netns: f }, 'removing stray network namespace');
      await this.netns.remove(f).catch((err: unknown) => this.log.warn({ err, netns: f }, 'cannot remove stray network namespace'));
    }
    const bridges = new Set([...this.reg.networks.values()].map((n) => n.bridge?.name).filter(Boolean));
    const hostIfs = new Set([...this.reg.sandboxes.values()].flatMap((sb) => sb.endpoints.map((ep) => ep.hostIf)));
    const strays = (await listLinks()).filter((l) => l.master && bridges.has(l.master) && l.linkKind === 'veth' && !hostIfs.has(l.ifname));
    if (strays.length) {
      this.log.info({ links: strays.map((l) => l.ifname) }, 'removing stray veths');
      await deleteLinks(strays.map((l) => l.ifname));
    }
  }

  // ---- helpers -------------------------------------------------------------------------------------------

  private rulesModel(): RulesModel {
    const m: RulesModel = { networks: [], ports: [], userlandProxy: this.opts.userlandProxy ?? true, loopbackDnat: this.loopbackDnat };
    for (const n of this.reg.networks.values()) {
      if (!n.bridge) continue;
      const cfg = n.ipam.config[0]!;
      m.networks.push({
        bridge: n.bridge.name, subnet: cfg.subnet, gateway: cfg.gateway, internal: n.internal, icc: n.bridge.icc,
        masquerade: n.bridge.masquerade, ...(n.bridge.dnsPort ? { dnsPort: n.bridge.dnsPort } : {}),
      });
    }
    for (const { bridge, containerIp, port: p } of this.sandboxes.portRules()) {
      m.ports.push({ bridge, proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp, containerPort: p.containerPort });
    }
    return m;
  }

  private hostResolvConf(): ResolvConf {
    const now = Date.now();
    if (!this.resolvCache || now - this.resolvCache.at > 5000) {
      this.resolvCache = { at: now, conf: readResolvConf(this.opts.resolvConfPath ?? '/etc/resolv.conf') };
    }
    return this.resolvCache.conf;
  }

  private addressContext(): AddressContext {
    const ours = new Set([...this.reg.networks.values()].map((n) => n.bridge?.name).filter(Boolean));
    const networks: Cidr4[] = [...this.reg.networks.values()].flatMap((n) => n.ipam.config.map((c) => parseCidr4(c.subnet)));
    return { networks, hostRoutes: hostRoutes().filter((r) => !ours.has(r.iface)), pools: this.pools };
  }

  private assertOpen(): void {
    if (this.closed) throw new FailedPreconditionError('the network manager is closed');
  }
}

/** `BERTH` for the default exec root, else `BERTH-` + 6 hex digits of the exec root (daemons side by side). */
export function defaultChainPrefix(execRoot: string): string {
  const root = path.resolve(execRoot);
  return root === '/run/berth' ? 'BERTH' : `BERTH-${createHash('sha256').update(root).digest('hex').slice(0, 6)}`;
}

/**
 * Whether iptables must see frames bridged within `n` (as dockerd decides): icc=false is a FORWARD rule, and
 * without the userland proxy a DNATed connection between two containers of one bridge needs conntrack there.
 */
export function needsBridgeNetfilter(n: NetworkRecord, o: Pick<NetworkManagerOptions, 'iptables' | 'userlandProxy'>): boolean {
  return (o.iptables ?? true) && !!n.bridge && (!n.bridge.icc || !(o.userlandProxy ?? true));
}

/** br_netfilter on, handing bridged IPv4 frames to iptables (net.bridge.bridge-nf-call-iptables=1), as dockerd does. */
async function enableBridgeNetfilter(log: Logger): Promise<void> {
  const key = 'net/bridge/bridge-nf-call-iptables';
  if (!existsSync(`/proc/sys/${key}`)) await runTool('modprobe', ['br_netfilter'], { check: false, what: 'load br_netfilter' }).catch(() => {});
  switchOn(key, log);
}

function setSysctl(key: string, value: string, log: Logger): void {
  try {
    writeFileSync(`/proc/sys/${key}`, value);
  } catch (err) {
    log.warn({ err, key }, 'cannot set sysctl');
  }
}

/** Turns a 0/1 sysctl (`net/ipv4/ip_forward`) on if it is off, saying so. */
function switchOn(key: string, log: Logger): void {
  const name = key.replaceAll('/', '.');
  try {
    if (readFileSync(`/proc/sys/${key}`, 'utf8').trim() !== '1') {
      writeFileSync(`/proc/sys/${key}`, '1');
      log.info({}, `enabled ${name}`);
    }
  } catch (err) {
    log.warn({ err }, `cannot enable ${name}`);
  }
}
