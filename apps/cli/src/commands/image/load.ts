import { createReadStream } from 'node:fs';
import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { StreamError, displayProgress } from '../../lib/progress.ts';
import { isTTY, stdout } from '../../context.ts';

export default class ImageLoad extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth load < busybox.tar', 'berth load -i images.tar'];
  static override flags = {
    input: Flags.string({ char: 'i', description: 'Read from tar archive file, instead of STDIN' }),
    platform: Flags.strings({ description: 'Load only the given platform(s).' }),
    quiet: Flags.boolean({ char: 'q', description: 'Suppress the load output' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ImageLoad);
    if (!flags.input && isTTY(0)) this.error('requested load from stdin, but stdin is empty');
    const input = flags.input ? createReadStream(flags.input) : process.stdin;
    const client = await this.ctx.client();
    const body = await client.images.load(input, { quiet: flags.quiet || !isTTY(1) });
    try {
      this.ctx.flush();
      await displayProgress(body, { out: stdout() });
    } catch (err) {
      if (err instanceof StreamError) this.error(err.message);
      throw err;
    }
  }
}
