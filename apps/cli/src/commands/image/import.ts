import { createReadStream } from 'node:fs';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { StreamError, displayProgress } from '../../lib/progress.ts';
import { parseImageRef } from '../../lib/pull.ts';
import { stdout } from '../../context.ts';

export default class ImageImport extends Command {
  static override usage = '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]';
  static override examples = ['berth import rootfs.tar myimage:1', 'cat rootfs.tar | berth import -c "CMD [\\"sh\\"]" - myimage'];
  static override args = [Args.string('source', { required: true }), Args.string('repository')];
  static override flags = {
    change: Flags.strings({ char: 'c', description: 'Apply Dockerfile instruction to the created image' }),
    message: Flags.string({ char: 'm', description: 'Set commit message for imported image' }),
    platform: Flags.string({ description: 'Set platform if server is multi-platform capable' }),
  };

  async run(): Promise<void> {
    const { flags, args } = await this.parse(ImageImport);
    const [source, target] = args as [string, string | undefined];
    let repo: string | undefined;
    let tag: string | undefined;
    if (target) {
      const ref = parseImageRef(target);
      repo = `${ref.domain}/${ref.path}`;
      tag = ref.tag;
    }
    const isUrl = /^(https?):\/\//.test(source);
    const body = source === '-' ? process.stdin : isUrl ? undefined : createReadStream(source);
    const client = await this.ctx.client();
    const res = await client.images.import(body ?? '', {
      source: isUrl ? source : '-', repo, tag, message: flags.message, changes: flags.change, platform: flags.platform,
    });
    try {
      this.ctx.flush();
      await displayProgress(res, { out: stdout() });
    } catch (err) {
      if (err instanceof StreamError) this.error(err.message);
      throw err;
    }
  }
}
