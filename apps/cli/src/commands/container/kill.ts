import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { forEach } from '../../lib/each.ts';

export default class ContainerKill extends Command {
  static override usage = '[OPTIONS] CONTAINER [CONTAINER...]';
  static override examples = ['berth kill web', 'berth kill -s HUP web'];
  static override args = [Args.string('container', { required: true, multiple: true })];
  static override flags = {
    signal: Flags.string({ char: 's', description: 'Signal to send to the container' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ContainerKill);
    const client = await this.ctx.client();
    return forEach(this, args, (id) => client.containers.kill(id, flags.signal));
  }
}
