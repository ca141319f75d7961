import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { writeOutput } from '../../lib/output-file.ts';
import { isTTY } from '../../context.ts';

export default class ContainerExport extends Command {
  static override usage = '[OPTIONS] CONTAINER';
  static override examples = ['berth export web > web.tar', 'berth export -o web.tar web'];
  static override args = [Args.string('container', { required: true })];
  static override flags = {
    output: Flags.string({ char: 'o', description: 'Write to a file, instead of STDOUT' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ContainerExport);
    if (!flags.output && isTTY(1)) this.error('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const client = await this.ctx.client();
    await writeOutput(await client.containers.export(args[0]!), flags.output);
  }
}
