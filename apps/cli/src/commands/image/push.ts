import { familiarName, formatReference } from '@berth/oci';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { displayProgress, StreamError } from '../../lib/progress.ts';
import { authFor, parseImageRef } from '../../lib/pull.ts';
import { stdout } from '../../context.ts';

export default class ImagePush extends Command {
  static override usage = '[OPTIONS] NAME[:TAG]';
  static override examples = ['berth push 127.0.0.1:5000/me/app:1.0', 'berth push -a 127.0.0.1:5000/me/app'];
  static override args = [Args.string('name', { required: true })];
  static override flags = {
    'all-tags': Flags.boolean({ char: 'a', description: 'Push all tags of an image to the repository' }),
    'disable-content-trust': Flags.boolean({ description: 'Skip image signing', default: true }),
    'platform': Flags.string({ description: 'Push a platform-specific manifest as a single-platform image to the registry.' }),
    'quiet': Flags.boolean({ char: 'q', description: 'Suppress verbose output' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ImagePush);
    let ref = parseImageRef(args[0]!);
    if (flags['all-tags'] && ref.tag) this.error('tag can\'t be used with --all-tags/-a');
    if (!flags['all-tags'] && !ref.tag && !ref.digest) {
      ref = { ...ref, tag: 'latest' };
      if (!flags.quiet) this.log('Using default tag: latest');
    }
    const client = await this.ctx.client();
    const body = await client.images.push(familiarName(ref), { tag: flags['all-tags'] ? undefined : ref.tag, auth: await authFor(this.ctx, ref) });
    try {
      if (flags.quiet) {
        await displayProgress(body, { out: { write: () => true } as unknown as NodeJS.WritableStream, terminal: false });
        this.log(formatReference(ref));
      } else {
        this.ctx.flush();
        await displayProgress(body, { out: stdout() });
      }
    } catch (err) {
      if (err instanceof StreamError) this.error(err.message);
      throw err;
    }
    return 0;
  }
}
