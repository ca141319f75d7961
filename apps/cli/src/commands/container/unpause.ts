import { Command } from '../../framework/command.ts';
import { Args } from '../../framework/flags.ts';
import { forEach } from '../../lib/each.ts';

export default class ContainerUnpause extends Command {
  static override usage = 'CONTAINER [CONTAINER...]';
  static override examples = ['berth unpause web'];
  static override args = [Args.string('container', { required: true, multiple: true })];

  async run(): Promise<number> {
    const { args } = await this.parse(ContainerUnpause);
    const client = await this.ctx.client();
    return forEach(this, args, (id) => client.containers.unpause(id));
  }
}
