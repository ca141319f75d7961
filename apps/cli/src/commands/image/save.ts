import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { writeOutput } from '../../lib/output-file.ts';
import { isTTY } from '../../context.ts';

export default class ImageSave extends Command {
  static override usage = '[OPTIONS] IMAGE [IMAGE...]';
  static override examples = ['berth save busybox > busybox.tar', 'berth save -o images.tar busybox debian'];
  static override args = [Args.string('image', { required: true, multiple: true })];
  static override flags = {
    output: Flags.string({ char: 'o', description: 'Write to a file, instead of STDOUT' }),
    platform: Flags.strings({ description: 'Save only the given platform(s). Formatted as a comma-separated list of "os[/arch[/variant]]" (e.g., "linux/amd64,linux/arm64/v8")' }),
  };

  async run(): Promise<void> {
    const { flags, args } = await this.parse(ImageSave);
    if (!flags.output && isTTY(1)) this.error('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const client = await this.ctx.client();
    await writeOutput(await client.images.save(args), flags.output);
  }
}
