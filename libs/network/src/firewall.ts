// berth's host iptables rules as a whole: the jumps from built-in chains, checked when the daemon starts, and
// its own chains re-rendered from the desired state on every change (coalesced: changes that arrive while a
// restore runs share the next one). Disabled (`--iptables=false`), every method does nothing.
import { Iptables, type IptablesVariant } from './iptables.ts';
import { chainNames, jumpRules, renderPurge, renderRules, type ChainNames, type RulesModel } from './rules.ts';
import { CoalescingSync } from './rule-sync.ts';

export class Firewall {
  readonly iptables: Iptables;
  readonly chains: ChainNames;
  private readonly enabled: boolean;
  private readonly userlandProxy: boolean;
  private readonly model: () => RulesModel;
  private readonly sync: CoalescingSync;
  private readonly natSync: CoalescingSync;

  constructor(o: { enabled: boolean; variant: IptablesVariant; prefix: string; userlandProxy: boolean; model: () => RulesModel }) {
    this.iptables = new Iptables(o.variant);
    this.chains = chainNames(o.prefix);
    this.enabled = o.enabled;
    this.userlandProxy = o.userlandProxy;
    this.model = o.model;
    this.sync = new CoalescingSync(() => this.apply([]));
    this.natSync = new CoalescingSync(() => this.apply([], ['nat']));
  }

  /** Start-up: inserts whichever jumps are missing and fills the chains, in one transaction per table. */
  async install(): Promise<void> {
    if (!this.enabled) return;
    const missing: [string, string, string][] = [];
    for (const j of jumpRules(this.chains, this.userlandProxy)) {
      if (!(await this.iptables.has(j[0], j[1], j[2]))) missing.push(j);
    }
    await this.apply(missing);
  }

  /** Re-renders the chains from the current model; resolves once a restore begun after the call is done. */
  update(): Promise<void> {
    return this.enabled ? this.sync.request() : Promise.resolve();
  }

  /** The same for published ports only (the nat table: one transaction instead of two). */
  updatePorts(): Promise<void> {
    return this.enabled ? this.natSync.request() : Promise.resolve();
  }

  /** Removes the jumps and the chains. */
  async purge(): Promise<void> {
    if (!this.enabled) return;
    const present: [string, string, string][] = [];
    for (const j of jumpRules(this.chains, this.userlandProxy)) if (await this.iptables.has(j[0], j[1], j[2])) present.push(j);
    const text = renderPurge(this.chains, present, await this.iptables.chains(['filter', 'nat']));
    await this.iptables.restore(text, 'remove berth iptables rules');
  }

  private async apply(insertJumps: [string, string, string][], tables?: string[]): Promise<void> {
    await this.iptables.restore(renderRules(this.chains, this.model(), insertJumps, tables), 'apply berth iptables rules');
  }
}
