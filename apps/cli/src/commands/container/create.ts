import { Command } from '../../framework/command.ts';
import { Args } from '../../framework/flags.ts';
import { createContainer } from '../../lib/create.ts';
import { runError } from '../../lib/run-errors.ts';
import { CONTAINER_FLAGS } from '../../lib/run-flags.ts';
import { buildCreateSpec } from '../../lib/run-options.ts';

export default class ContainerCreate extends Command {
  static override usage = '[OPTIONS] IMAGE [COMMAND] [ARG...]';
  static override examples = ['berth create --name web -p 8080:80 nginx', 'berth create -it busybox sh'];
  static override args = [Args.string('image', { required: true }), Args.string('command', { multiple: true })];
  static override interspersed = false;
  static override flags = CONTAINER_FLAGS;

  async run(): Promise<number> {
    const { flags, args, changed } = await this.parse(ContainerCreate);
    try {
      const spec = buildCreateSpec(flags, changed, args[0]!, args.slice(1));
      const client = await this.ctx.client();
      const id = await createContainer(this.ctx, client, spec, { pull: flags.pull, quiet: flags.quiet, cidfile: flags.cidfile });
      this.log(id);
      return 0;
    } catch (err) {
      throw runError(err, this.path, false);
    }
  }
}
