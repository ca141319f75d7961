// The iptables front end: whichever variant the host's `iptables` is (nf_tables or legacy), or one chosen.
import { runTool } from './exec.ts';

export type IptablesVariant = 'auto' | 'nft' | 'legacy';

export class Iptables {
  readonly iptables: string;
  readonly restoreCmd: string;
  readonly saveCmd: string;

  constructor(variant: IptablesVariant = 'auto') {
    const suffix = variant === 'auto' ? '' : `-${variant}`;
    this.iptables = `iptables${suffix}`;
    this.restoreCmd = `iptables${suffix}-restore`;
    this.saveCmd = `iptables${suffix}-save`;
  }

  /** Applies iptables-restore input without flushing anything it does not name. */
  async restore(text: string, what: string): Promise<void> {
    if (!text) return;
    await runTool(this.restoreCmd, ['-w', '--noflush'], { input: text, what });
  }

  /** Whether a rule exists (`iptables -C`). */
  async has(table: string, chain: string, spec: string): Promise<boolean> {
    const r = await runTool(this.iptables, ['-w', '-t', table, '-C', chain, ...splitSpec(spec)], { check: false, what: 'check a rule' });
    return r.code === 0;
  }

  /** `table:chain` for every chain of the given tables. */
  async chains(tables: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const table of tables) {
      const r = await runTool(this.saveCmd, ['-t', table], { check: false, what: `list ${table} chains` });
      for (const line of r.stdout.split('\n')) {
        if (line.startsWith(':')) out.add(`${table}:${line.slice(1).split(' ')[0]}`);
      }
    }
    return out;
  }

  /** The rules of one table as iptables-save prints them. */
  async save(table: string): Promise<string> {
    return (await runTool(this.saveCmd, ['-t', table], { what: `save ${table} rules` })).stdout;
  }
}

function splitSpec(spec: string): string[] {
  return spec.split(' ').filter(Boolean);
}
