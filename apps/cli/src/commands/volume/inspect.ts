import { seg } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { INSPECT_FORMAT_HELP } from '../../lib/help-text.ts';
import { getRaw, inspectAll } from '../../lib/inspect.ts';

export default class VolumeInspect extends Command {
  static override usage = '[OPTIONS] VOLUME [VOLUME...]';
  static override examples = ['berth volume inspect data', 'berth volume inspect -f "{{.Mountpoint}}" data'];
  static override args = [Args.string('volume', { required: true, multiple: true })];
  static override flags = {
    format: Flags.string({ char: 'f', description: INSPECT_FORMAT_HELP }),
  };

  async run(): Promise<number> {
    const { args, flags } = await this.parse(VolumeInspect);
    const client = await this.ctx.client();
    return inspectAll(this, args, flags.format, (n) => getRaw(client, `/volumes/${seg(n)}`));
  }
}
