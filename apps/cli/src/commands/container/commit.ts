import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { parseImageRef } from '../../lib/pull.ts';

export default class ContainerCommit extends Command {
  static override usage = '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]';
  static override examples = ['berth commit web web:snapshot', 'berth commit -c "CMD [\\"sh\\"]" -m "added tools" web tools:1'];
  static override args = [Args.string('container', { required: true }), Args.string('repository')];
  static override flags = {
    author: Flags.string({ char: 'a', description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' }),
    change: Flags.strings({ char: 'c', description: 'Apply Dockerfile instruction to the created image' }),
    message: Flags.string({ char: 'm', description: 'Commit message' }),
    pause: Flags.boolean({ char: 'p', description: 'Pause container during commit', default: true }),
  };

  async run(): Promise<void> {
    const { flags, args } = await this.parse(ContainerCommit);
    let repo: string | undefined;
    let tag: string | undefined;
    if (args[1]) {
      const ref = parseImageRef(args[1]);
      if (ref.digest) this.error('refusing to create a tag with a digest reference');
      repo = `${ref.domain}/${ref.path}`;
      tag = ref.tag ?? 'latest';
    }
    const client = await this.ctx.client();
    const r = await client.containers.commit({
      container: args[0]!, repo, tag, comment: flags.message, author: flags.author, pause: flags.pause, changes: flags.change,
    });
    this.log(r.Id);
  }
}
