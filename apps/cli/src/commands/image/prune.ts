import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { humanSize } from '../../format/units.ts';
import { confirm } from '../../lib/confirm.ts';
import { parseFilters } from '../../lib/filters.ts';

export default class ImagePrune extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth image prune -f', 'berth image prune -a -f --filter until=24h'];
  static override flags = {
    all: Flags.boolean({ char: 'a', description: 'Remove all unused images, not just dangling ones' }),
    filter: Flags.strings({ description: 'Provide filter values (e.g. "until=<timestamp>")', helpValue: 'filter' }),
    force: Flags.boolean({ char: 'f', description: 'Do not prompt for confirmation' }),
  };

  async run(): Promise<number> {
    const { flags } = await this.parse(ImagePrune);
    const warning = flags.all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!flags.force && !(await confirm(`${warning}\nAre you sure you want to continue?`))) return 0;
    const filters = parseFilters(flags.filter) ?? {};
    filters.dangling = [flags.all ? 'false' : 'true'];
    const client = await this.ctx.client();
    const r = await client.images.prune(filters);
    const deleted = r.ImagesDeleted ?? [];
    if (deleted.length) {
      this.log('Deleted Images:');
      for (const d of deleted) {
        if (d.Untagged) this.log(`untagged: ${d.Untagged}`);
        if (d.Deleted) this.log(`deleted: ${d.Deleted}`);
      }
      this.log('');
    }
    this.log(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`);
    return 0;
  }
}
