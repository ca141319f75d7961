import { Command } from '../../framework/command.ts';
import { Args } from '../../framework/flags.ts';
import { describeError, isFatal } from '../../lib/describe.ts';

export default class ContainerRename extends Command {
  static override usage = 'CONTAINER NEW_NAME';
  static override examples = ['berth rename web web-old'];
  static override args = [Args.string('container', { required: true }), Args.string('new_name', { required: true })];

  async run(): Promise<number> {
    const { args } = await this.parse(ContainerRename);
    const [oldName, newName] = [args[0]!.trim(), args[1]!.trim()];
    if (oldName === '' || newName === '') this.error('Error: neither old nor new names may be empty');
    const client = await this.ctx.client();
    try {
      await client.containers.rename(oldName, newName);
    } catch (err) {
      if (isFatal(err)) throw err;
      this.warn(describeError(err));
      this.error(`Error: failed to rename container named ${oldName}`);
    }
    return 0;
  }
}
