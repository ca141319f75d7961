import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { describeError, isFatal } from '../../lib/describe.ts';

export default class ImageRm extends Command {
  static override usage = '[OPTIONS] IMAGE [IMAGE...]';
  static override examples = ['berth rmi busybox', 'berth rmi -f $(berth images -q)'];
  static override args = [Args.string('image', { required: true, multiple: true })];
  static override flags = {
    'force': Flags.boolean({ char: 'f', description: 'Force removal of the image' }),
    'no-prune': Flags.boolean({ description: 'Do not delete untagged parents' }),
    'platform': Flags.strings({ description: 'Remove only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ImageRm);
    const client = await this.ctx.client();
    let failed = false;
    for (const name of args) {
      try {
        const items = await client.images.remove(name, { force: flags.force, noprune: flags['no-prune'] });
        for (const i of items ?? []) {
          if (i.Untagged) this.log(`Untagged: ${i.Untagged}`);
          if (i.Deleted) this.log(`Deleted: ${i.Deleted}`);
        }
      } catch (err) {
        if (isFatal(err)) throw err;
        this.warn(describeError(err));
        failed = true;
      }
    }
    return failed ? 1 : 0;
  }
}
