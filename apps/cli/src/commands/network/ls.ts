import type { Network } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { STRICT, renderList } from '../../format/formatter.ts';
import { goTimeString, truncateId } from '../../lib/ids.ts';
import { parseFilters } from '../../lib/filters.ts';
import { FORMAT_HELP } from '../../lib/help-text.ts';

const TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
const HEADERS = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', IPv4: 'IPV4', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' };

class NetworkContext {
  readonly [STRICT] = '*formatter.networkContext';
  private readonly n: Network;
  private readonly trunc: boolean;
  constructor(n: Network, trunc: boolean) {
    this.n = n;
    this.trunc = trunc;
  }

  ID(): string {
    return this.trunc ? truncateId(this.n.Id) : this.n.Id;
  }

  Name(): string {
    return this.n.Name;
  }

  Driver(): string {
    return this.n.Driver;
  }

  Scope(): string {
    return this.n.Scope;
  }

  IPv4(): string {
    return String(this.n.EnableIPv4 ?? true);
  }

  IPv6(): string {
    return String(this.n.EnableIPv6);
  }

  Internal(): string {
    return String(this.n.Internal);
  }

  Labels(): string {
    return Object.entries(this.n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  }

  Label(name: string): string {
    return this.n.Labels?.[name] ?? '';
  }

  CreatedAt(): string {
    return goTimeString(new Date(this.n.Created));
  }

  toJSON(): Record<string, string> {
    return {
      CreatedAt: this.CreatedAt(), Driver: this.Driver(), ID: this.ID(), IPv4: this.IPv4(), IPv6: this.IPv6(), Internal: this.Internal(),
      Labels: this.Labels(), Name: this.Name(), Scope: this.Scope(),
    };
  }
}

export default class NetworkLs extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth network ls', 'berth network ls -q -f driver=bridge'];
  static override flags = {
    'filter': Flags.strings({ char: 'f', description: 'Provide filter values (e.g. "driver=bridge")', helpValue: 'filter' }),
    'format': Flags.string({ description: FORMAT_HELP }),
    'no-trunc': Flags.boolean({ description: 'Do not truncate the output' }),
    'quiet': Flags.boolean({ char: 'q', description: 'Only display network IDs' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(NetworkLs);
    const client = await this.ctx.client();
    const nets = (await client.networks.list(parseFilters(flags.filter))).sort((a, b) => a.Name.localeCompare(b.Name, 'en', { numeric: true }));
    let format = flags.format ?? 'table';
    if (format === 'table') format = flags.quiet ? '{{.ID}}' : TABLE;
    this.ctx.out(renderList(format, TABLE, nets.map((n) => new NetworkContext(n, !flags['no-trunc'])), HEADERS));
  }
}
