import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { renderList } from '../../format/formatter.ts';
import { IMAGE_HEADERS, IMAGE_TABLE, IMAGE_TABLE_DIGEST, imageRows } from '../../contexts/image.ts';
import { parseFilters } from '../../lib/filters.ts';
import { FORMAT_HELP } from '../../lib/help-text.ts';

export default class ImageLs extends Command {
  static override usage = '[OPTIONS] [REPOSITORY[:TAG]]';
  static override examples = ['berth images', 'berth images busybox', 'berth images -q --filter dangling=true', 'berth images --format "{{.Repository}}:{{.Tag}}"'];
  static override args = [Args.string('repository')];
  static override flags = {
    'all': Flags.boolean({ char: 'a', description: 'Show all images (default hides intermediate images)' }),
    'digests': Flags.boolean({ description: 'Show digests' }),
    'filter': Flags.strings({ char: 'f', description: 'Filter output based on conditions provided', helpValue: 'filter' }),
    'format': Flags.string({ description: FORMAT_HELP }),
    'no-trunc': Flags.boolean({ description: 'Don\'t truncate output' }),
    'quiet': Flags.boolean({ char: 'q', description: 'Only show image IDs' }),
    'tree': Flags.boolean({ description: 'List multi-platform images as a tree (EXPERIMENTAL)', hidden: true }),
  };

  async run(): Promise<void> {
    const { flags, args } = await this.parse(ImageLs);
    const filters = parseFilters(flags.filter) ?? {};
    if (args[0]) (filters.reference ??= []).push(args[0]);
    let format = flags.format ?? '';
    if (format === '') {
      const cfg = await this.ctx.config();
      format = cfg.data.imagesFormat && !flags.quiet ? cfg.data.imagesFormat : 'table';
    }
    if (format === 'table') format = flags.quiet ? '{{.ID}}' : flags.digests ? IMAGE_TABLE_DIGEST : IMAGE_TABLE;
    const client = await this.ctx.client();
    const images = await client.images.list({ all: flags.all, filters: Object.keys(filters).length ? filters : undefined });
    const needDigest = flags.digests || format.includes('{{.Digest}}');
    const rows = imageRows(images, !flags['no-trunc'], flags.digests, needDigest);
    this.ctx.out(renderList(format, IMAGE_TABLE, rows, IMAGE_HEADERS));
  }
}
