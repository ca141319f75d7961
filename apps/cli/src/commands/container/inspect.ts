import { seg } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { INSPECT_FORMAT_HELP } from '../../lib/help-text.ts';
import { getRaw, inspectAll } from '../../lib/inspect.ts';

export default class ContainerInspect extends Command {
  static override usage = '[OPTIONS] CONTAINER [CONTAINER...]';
  static override examples = ['berth container inspect web', 'berth container inspect -f "{{.State.Status}}" web'];
  static override args = [Args.string('container', { required: true, multiple: true })];
  static override flags = {
    format: Flags.string({ char: 'f', description: INSPECT_FORMAT_HELP }),
    size: Flags.boolean({ char: 's', description: 'Display total file sizes' }),
  };

  async run(): Promise<number> {
    const { args, flags } = await this.parse(ContainerInspect);
    const client = await this.ctx.client();
    return inspectAll(this, args, flags.format, (n) => getRaw(client, `/containers/${seg(n)}/json`, { size: flags.size || undefined }));
  }
}
