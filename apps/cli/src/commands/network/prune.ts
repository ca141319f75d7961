import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { confirm } from '../../lib/confirm.ts';
import { parseFilters } from '../../lib/filters.ts';

export default class NetworkPrune extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth network prune -f'];
  static override flags = {
    filter: Flags.strings({ description: 'Provide filter values (e.g. "until=<timestamp>")', helpValue: 'filter' }),
    force: Flags.boolean({ char: 'f', description: 'Do not prompt for confirmation' }),
  };

  async run(): Promise<number> {
    const { flags } = await this.parse(NetworkPrune);
    if (!flags.force && !(await confirm('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) return 0;
    const client = await this.ctx.client();
    const r = await client.networks.prune(parseFilters(flags.filter));
    if (r.NetworksDeleted?.length) this.log(`Deleted Networks:\n${r.NetworksDeleted.join('\n')}`);
    return 0;
  }
}
