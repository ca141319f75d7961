import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { humanSize } from '../../format/units.ts';
import { confirm } from '../../lib/confirm.ts';
import { parseFilters } from '../../lib/filters.ts';

export default class ContainerPrune extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth container prune -f', 'berth container prune --filter until=24h'];
  static override flags = {
    filter: Flags.strings({ description: 'Provide filter values (e.g. "until=<timestamp>")', helpValue: 'filter' }),
    force: Flags.boolean({ char: 'f', description: 'Do not prompt for confirmation' }),
  };

  async run(): Promise<number> {
    const { flags } = await this.parse(ContainerPrune);
    if (!flags.force && !(await confirm('WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return 0;
    const client = await this.ctx.client();
    const r = await client.containers.prune(parseFilters(flags.filter));
    const deleted = r.ContainersDeleted ?? [];
    if (deleted.length) this.log(`Deleted Containers:\n${deleted.join('\n')}\n`);
    this.log(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`);
    return 0;
  }
}
