import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { parseImageRef, pullImage } from '../../lib/pull.ts';
import { StreamError } from '../../lib/progress.ts';
import { stdout } from '../../context.ts';

export default class ImagePull extends Command {
  static override usage = '[OPTIONS] NAME[:TAG|@DIGEST]';
  static override examples = ['berth pull busybox', 'berth pull -q debian:latest', 'berth pull 127.0.0.1:5000/library/busybox'];
  static override args = [Args.string('name', { required: true })];
  static override flags = {
    'all-tags': Flags.boolean({ char: 'a', description: 'Download all tagged images in the repository' }),
    'disable-content-trust': Flags.boolean({ description: 'Skip image verification', default: true }),
    'platform': Flags.string({ description: 'Set platform if server is multi-platform capable' }),
    'quiet': Flags.boolean({ char: 'q', description: 'Suppress verbose output' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ImagePull);
    let ref = parseImageRef(args[0]!);
    if (flags['all-tags'] && (ref.tag || ref.digest)) this.error('tag can\'t be used with --all-tags/-a');
    if (!flags['all-tags'] && !ref.tag && !ref.digest) {
      ref = { ...ref, tag: 'latest' };
      if (!flags.quiet) this.log('Using default tag: latest');
    }
    const client = await this.ctx.client();
    try {
      const full = await pullImage(this.ctx, client, ref, { platform: flags.platform, quiet: flags.quiet, out: stdout(), allTags: flags['all-tags'] });
      this.log(full);
    } catch (err) {
      if (err instanceof StreamError) this.error(err.message);
      throw err;
    }
    return 0;
  }
}
