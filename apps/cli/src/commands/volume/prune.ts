import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { humanSize } from '../../format/units.ts';
import { confirm } from '../../lib/confirm.ts';
import { parseFilters } from '../../lib/filters.ts';

export default class VolumePrune extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth volume prune -f', 'berth volume prune -a -f'];
  static override flags = {
    all: Flags.boolean({ char: 'a', description: 'Remove all unused volumes, not just anonymous ones' }),
    filter: Flags.strings({ description: 'Provide filter values (e.g. "label=<label>")', helpValue: 'filter' }),
    force: Flags.boolean({ char: 'f', description: 'Do not prompt for confirmation' }),
  };

  async run(): Promise<number> {
    const { flags } = await this.parse(VolumePrune);
    const warning = flags.all ? 'WARNING! This will remove all local volumes not used by at least one container.'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    if (!flags.force && !(await confirm(`${warning}\nAre you sure you want to continue?`))) return 0;
    const client = await this.ctx.client();
    const filters = parseFilters(flags.filter) ?? {};
    if (flags.all && (await client.supports('1.42'))) filters.all = ['true'];
    const r = await client.volumes.prune(Object.keys(filters).length ? filters : undefined);
    if (r.VolumesDeleted?.length) this.log(`Deleted Volumes:\n${r.VolumesDeleted.join('\n')}\n`);
    this.log(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`);
    return 0;
  }
}
