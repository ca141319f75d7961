import { seg } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { INSPECT_FORMAT_HELP } from '../../lib/help-text.ts';
import { getRaw, inspectAll } from '../../lib/inspect.ts';

export default class ImageInspect extends Command {
  static override usage = '[OPTIONS] IMAGE [IMAGE...]';
  static override examples = ['berth image inspect busybox', 'berth image inspect -f "{{.Config.Cmd}}" busybox'];
  static override args = [Args.string('image', { required: true, multiple: true })];
  static override flags = {
    format: Flags.string({ char: 'f', description: INSPECT_FORMAT_HELP }),
    platform: Flags.string({ description: 'Inspect a specific platform of the multi-platform image.' }),
  };

  async run(): Promise<number> {
    const { args, flags } = await this.parse(ImageInspect);
    const client = await this.ctx.client();
    return inspectAll(this, args, flags.format, (n) => getRaw(client, `/images/${seg(n)}/json`));
  }
}
