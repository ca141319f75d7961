import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { STRICT, renderList } from '../../format/formatter.ts';
import { humanDuration, humanSize } from '../../format/units.ts';
import type { ImageHistoryItem } from '@berth/docker-api';
import { ellipsis, truncateId } from '../../lib/ids.ts';

const TABLE = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
const HEADERS = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };

class HistoryContext {
  readonly [STRICT] = '*image.historyContext';
  private readonly h: ImageHistoryItem;
  private readonly trunc: boolean;
  private readonly human: boolean;
  constructor(h: ImageHistoryItem, trunc: boolean, human: boolean) {
    this.h = h;
    this.trunc = trunc;
    this.human = human;
  }

  ID(): string {
    return this.trunc && this.h.Id !== '<missing>' ? truncateId(this.h.Id) : this.h.Id;
  }

  CreatedSince(): string {
    if (!this.human) return this.CreatedAt();
    return `${humanDuration(Date.now() - this.h.Created * 1000)} ago`;
  }

  CreatedAt(): string {
    return new Date(this.h.Created * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  CreatedBy(): string {
    const by = this.h.CreatedBy.replace(/\t/g, ' ');
    return this.trunc ? ellipsis(by, 45) : by;
  }

  Size(): string {
    return this.human ? humanSize(this.h.Size, 3) : String(this.h.Size);
  }

  Comment(): string {
    return this.h.Comment;
  }

  toJSON(): Record<string, string> {
    return {
      Comment: this.Comment(), CreatedAt: this.CreatedAt(), CreatedBy: this.CreatedBy(), CreatedSince: this.CreatedSince(), ID: this.ID(),
      Size: this.Size(),
    };
  }
}

export default class ImageHistory extends Command {
  static override usage = '[OPTIONS] IMAGE';
  static override examples = ['berth history busybox', 'berth history --no-trunc --format "{{.CreatedBy}}" busybox'];
  static override args = [Args.string('image', { required: true })];
  static override flags = {
    'format': Flags.string({ description: 'Format output using a custom template' }),
    'human': Flags.boolean({ char: 'H', description: 'Print sizes and dates in human readable format', default: true }),
    'no-trunc': Flags.boolean({ description: 'Don\'t truncate output' }),
    'platform': Flags.string({ description: 'Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")' }),
    'quiet': Flags.boolean({ char: 'q', description: 'Only show image IDs' }),
  };

  async run(): Promise<void> {
    const { flags, args } = await this.parse(ImageHistory);
    const client = await this.ctx.client();
    const items = await client.images.history(args[0]!);
    let format = flags.format ?? 'table';
    if (format === 'table') format = flags.quiet ? '{{.ID}}' : TABLE;
    this.ctx.out(renderList(format, TABLE, items.map((h) => new HistoryContext(h, !flags['no-trunc'], flags.human)), HEADERS));
  }
}
