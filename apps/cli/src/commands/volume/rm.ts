import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { forEach } from '../../lib/each.ts';

export default class VolumeRm extends Command {
  static override usage = '[OPTIONS] VOLUME [VOLUME...]';
  static override examples = ['berth volume rm data', 'berth volume rm -f data'];
  static override args = [Args.string('volume', { required: true, multiple: true })];
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'Force the removal of one or more volumes' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(VolumeRm);
    const client = await this.ctx.client();
    return forEach(this, args, (v) => client.volumes.remove(v, flags.force));
  }
}
