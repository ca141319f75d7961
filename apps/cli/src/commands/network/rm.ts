import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { describeError, isFatal, isNotFound } from '../../lib/describe.ts';

export default class NetworkRm extends Command {
  static override usage = 'NETWORK [NETWORK...]';
  static override examples = ['berth network rm app'];
  static override args = [Args.string('network', { required: true, multiple: true })];
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'Do not error if the network does not exist' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(NetworkRm);
    const client = await this.ctx.client();
    let failed = false;
    for (const n of args) {
      try {
        await client.networks.remove(n);
        this.log(n);
      } catch (err) {
        if (isFatal(err)) throw err;
        if (flags.force && isNotFound(err)) continue;
        this.warn(describeError(err));
        failed = true;
      }
    }
    return failed ? 1 : 0;
  }
}
