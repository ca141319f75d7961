import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { forEach } from '../../lib/each.ts';

export default class ContainerRestart extends Command {
  static override usage = '[OPTIONS] CONTAINER [CONTAINER...]';
  static override examples = ['berth restart web', 'berth restart -t 2 web'];
  static override args = [Args.string('container', { required: true, multiple: true })];
  static override flags = {
    signal: Flags.string({ char: 's', description: 'Signal to send to the container' }),
    timeout: Flags.integer({ char: 't', description: 'Seconds to wait before killing the container' }),
    time: Flags.integer({ description: 'Seconds to wait before killing the container (deprecated: use --timeout)', hidden: true }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ContainerRestart);
    const client = await this.ctx.client();
    const timeout = flags.timeout ?? flags.time;
    return forEach(this, args, (id) => client.containers.restart(id, { signal: flags.signal, timeout }));
  }
}
