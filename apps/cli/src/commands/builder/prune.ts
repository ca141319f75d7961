import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { humanSize } from '../../format/units.ts';
import { confirm } from '../../lib/confirm.ts';
import { parseFilters } from '../../lib/filters.ts';

export default class BuilderPrune extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth builder prune -f'];
  static override flags = {
    'all': Flags.boolean({ char: 'a', description: 'Remove all unused build cache, not just dangling ones' }),
    'filter': Flags.strings({ description: 'Provide filter values (e.g. "until=24h")', helpValue: 'filter' }),
    'force': Flags.boolean({ char: 'f', description: 'Do not prompt for confirmation' }),
    'keep-storage': Flags.string({ description: 'Amount of disk space to keep for cache', helpValue: 'bytes' }),
  };

  async run(): Promise<number> {
    const { flags } = await this.parse(BuilderPrune);
    if (!flags.force && !(await confirm('WARNING! This will remove all dangling build cache.\nAre you sure you want to continue?'))) return 0;
    const client = await this.ctx.client();
    const r = await client.images.buildPrune({ all: flags.all, filters: parseFilters(flags.filter) });
    const deleted = r.CachesDeleted ?? [];
    if (deleted.length) this.log(`Deleted build cache objects:\n${deleted.join('\n')}\n`);
    this.log(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`);
    return 0;
  }
}
