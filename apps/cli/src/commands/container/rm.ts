import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { describeError, isFatal, isNotFound } from '../../lib/describe.ts';

export default class ContainerRm extends Command {
  static override usage = '[OPTIONS] CONTAINER [CONTAINER...]';
  static override examples = ['berth rm web', 'berth rm -f web', 'berth rm $(berth ps -aq -f status=exited)'];
  static override args = [Args.string('container', { required: true, multiple: true })];
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'Force the removal of a running container (uses SIGKILL)' }),
    link: Flags.boolean({ char: 'l', description: 'Remove the specified link' }),
    volumes: Flags.boolean({ char: 'v', description: 'Remove anonymous volumes associated with the container' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ContainerRm);
    const client = await this.ctx.client();
    let failed = false;
    for (const id of args) {
      const name = id.replace(/^\/+/, '');
      if (name === '') {
        this.warn('Container name cannot be empty');
        failed = true;
        continue;
      }
      try {
        await client.containers.remove(name, { force: flags.force, volumes: flags.volumes, link: flags.link });
        this.log(id);
      } catch (err) {
        if (isFatal(err)) throw err;
        // with --force, a container that is already gone is not an error
        if (flags.force && isNotFound(err)) {
          this.warn(describeError(err));
          continue;
        }
        this.warn(describeError(err));
        failed = true;
      }
    }
    return failed ? 1 : 0;
  }
}
