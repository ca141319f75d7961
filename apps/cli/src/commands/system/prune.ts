import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { humanSize } from '../../format/units.ts';
import { confirm } from '../../lib/confirm.ts';
import { parseFilters } from '../../lib/filters.ts';

export default class SystemPrune extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth system prune -f', 'berth system prune -a --volumes -f'];
  static override flags = {
    all: Flags.boolean({ char: 'a', description: 'Remove all unused images not just dangling ones' }),
    filter: Flags.strings({ description: 'Provide filter values (e.g. "label=<key>=<value>")', helpValue: 'filter' }),
    force: Flags.boolean({ char: 'f', description: 'Do not prompt for confirmation' }),
    volumes: Flags.boolean({ description: 'Prune anonymous volumes' }),
  };

  async run(): Promise<number> {
    const { flags } = await this.parse(SystemPrune);
    const items = [
      'all stopped containers',
      ...(flags.volumes ? ['all anonymous volumes not used by at least one container'] : []),
      'all networks not used by at least one container',
      flags.all ? 'all images without at least one container associated to them' : 'all dangling images',
      flags.all ? 'all build cache' : 'unused build cache',
    ];
    const warning = `WARNING! This will remove:\n${items.map((i) => `  - ${i}`).join('\n')}\n`;
    if (!flags.force && !(await confirm(`${warning}\nAre you sure you want to continue?`))) return 0;
    const client = await this.ctx.client();
    const filters = parseFilters(flags.filter);
    let reclaimed = 0;
    const c = await client.containers.prune(filters);
    if (c.ContainersDeleted?.length) this.log(`Deleted Containers:\n${c.ContainersDeleted.join('\n')}\n`);
    reclaimed += c.SpaceReclaimed;
    if (flags.volumes) {
      const v = await client.volumes.prune(filters);
      if (v.VolumesDeleted?.length) this.log(`Deleted Volumes:\n${v.VolumesDeleted.join('\n')}\n`);
      reclaimed += v.SpaceReclaimed;
    }
    const n = await client.networks.prune(filters);
    if (n.NetworksDeleted?.length) this.log(`Deleted Networks:\n${n.NetworksDeleted.join('\n')}\n`);
    const imgFilters = { ...(filters ?? {}), dangling: [flags.all ? 'false' : 'true'] };
    const i = await client.images.prune(imgFilters);
    if (i.ImagesDeleted?.length) {
      this.log('Deleted Images:');
      for (const d of i.ImagesDeleted) {
        if (d.Untagged) this.log(`untagged: ${d.Untagged}`);
        if (d.Deleted) this.log(`deleted: ${d.Deleted}`);
      }
      this.log('');
    }
    reclaimed += i.SpaceReclaimed;
    try {
      const b = await client.images.buildPrune({ all: flags.all, filters });
      if (b.CachesDeleted?.length) this.log(`Deleted build cache objects:\n${b.CachesDeleted.join('\n')}\n`);
      reclaimed += b.SpaceReclaimed;
    } catch {
      // daemons without a build cache
    }
    this.log(`Total reclaimed space: ${humanSize(reclaimed)}`);
    return 0;
  }
}
