import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';

export default class NetworkDisconnect extends Command {
  static override usage = '[OPTIONS] NETWORK CONTAINER';
  static override examples = ['berth network disconnect app web'];
  static override args = [Args.string('network', { required: true }), Args.string('container', { required: true })];
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'Force the container to disconnect from a network' }),
  };

  async run(): Promise<void> {
    const { flags, args } = await this.parse(NetworkDisconnect);
    const client = await this.ctx.client();
    await client.networks.disconnect(args[0]!, args[1]!, flags.force);
  }
}
