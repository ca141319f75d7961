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
  private readonly loopbackDnat: boolean;
  private readonly model: () => RulesModel;
  private readonly sync: CoalescingSync;
  private readonly natSync: CoalescingSync;

  constructor(o: { enabled: boolean; variant: IptablesVariant; prefix: string; loopbackDnat: boolean; model: () => RulesModel }) {
    this.iptables = new Iptables(o.variant);
    this.chains = chainNames(o.prefix);
    this.enabled = o.enabled;
    this.loopbackDnat = o.loopbackDnat;
    this.model = o.model;
    this.sync = new CoalescingSync(() => this.apply([]));
    this.natSync = new CoalescingSync(() => this.apply([], ['nat']));
  }

  /** Start-up: inserts whichever jumps are missing and fills the chains, in one transaction per table. */
  async install(): Promise<void> {
    if (!this.enabled) return;
    const missing: [string, string, string][] = [];
    for (const j of jumpRules(this.chains, this.loopbackDnat)) {
      if (!(await this.iptables.has(j[0], j[1], j[2]))) missing.push(j);
    }
    // A jump of the other loopback setting (the daemon's flags changed): replaced, not kept alongside.
    const wanted = jumpRules(this.chains, this.loopbackDnat);
    const other = jumpRules(this.chains, !this.loopbackDnat).filter((j) => !wanted.some((x) => x[1] === j[1] && x[2] === j[2]));
    const stale = await this.present(other);
    if (stale.length) await this.iptables.restore(renderPurge(this.chains, stale, new Set()), 'remove stale berth jumps');
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
    const all = [...jumpRules(this.chains, true), ...jumpRules(this.chains, false)];
    const present = await this.present(all.filter((j, i) => all.findIndex((x) => x[1] === j[1] && x[2] === j[2]) === i));
    const text = renderPurge(this.chains, present, await this.iptables.chains(['filter', 'nat']));
    await this.iptables.restore(text, 'remove berth iptables rules');
  }

  private async present(jumps: [string, string, string][]): Promise<[string, string, string][]> {
    const out: [string, string, string][] = [];
    for (const j of jumps) if (await this.iptables.has(j[0], j[1], j[2])) out.push(j);
    return out;
  }

  private async apply(insertJumps: [string, string, string][], tables?: string[]): Promise<void> {
    await this.iptables.restore(renderRules(this.chains, this.model(), insertJumps, tables), 'apply berth iptables rules');
  }
}
