import { Command } from '../../framework/command.ts';
import { Args } from '../../framework/flags.ts';
import { parseImageRef } from '../../lib/pull.ts';

export default class ImageTag extends Command {
  static override usage = 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]';
  static override examples = ['berth tag busybox 127.0.0.1:5000/me/busybox:1'];
  static override args = [Args.string('source', { required: true }), Args.string('target', { required: true })];

  async run(): Promise<void> {
    const { args } = await this.parse(ImageTag);
    const target = parseImageRef(args[1]!);
    if (target.digest) this.error('refusing to create a tag with a digest reference');
    const client = await this.ctx.client();
    // docker sends the full normalized name (docker.io/library/x)
    await client.images.tag(args[0]!, `${target.domain}/${target.path}`, target.tag ?? 'latest');
  }
}
