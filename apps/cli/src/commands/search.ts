import { Command } from '../framework/command.ts';
import { Args, Flags } from '../framework/flags.ts';
import { STRICT, renderList } from '../format/formatter.ts';
import type { ImageSearchResult } from '@berth/docker-api';
import { ellipsis } from '../lib/ids.ts';
import { parseFilters } from '../lib/filters.ts';

const TABLE = 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}';
const HEADERS = { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL', IsAutomated: 'AUTOMATED' };

class SearchContext {
  readonly [STRICT] = '*registry.searchContext';
  private readonly r: ImageSearchResult;
  private readonly trunc: boolean;
  constructor(r: ImageSearchResult, trunc: boolean) {
    this.r = r;
    this.trunc = trunc;
  }

  Name(): string {
    return this.r.name;
  }

  Description(): string {
    const d = this.r.description.replace(/\n/g, ' ').replace(/\r/g, ' ');
    return this.trunc ? ellipsis(d, 45) : d;
  }

  StarCount(): string {
    return String(this.r.star_count);
  }

  IsOfficial(): string {
    return this.r.is_official ? '[OK]' : '';
  }

  IsAutomated(): string {
    return this.r.is_automated ? '[OK]' : '';
  }

  toJSON(): Record<string, string> {
    return {
      Description: this.Description(), IsAutomated: this.IsAutomated(), IsOfficial: this.IsOfficial(), Name: this.Name(),
      StarCount: this.StarCount(),
    };
  }
}

export default class Search extends Command {
  static override usage = '[OPTIONS] TERM';
  static override examples = ['berth search busybox', 'berth search --limit 5 --filter is-official=true debian'];
  static override args = [Args.string('term', { required: true })];
  static override flags = {
    'filter': Flags.strings({ char: 'f', description: 'Filter output based on conditions provided', helpValue: 'filter' }),
    'format': Flags.string({ description: 'Pretty-print search using a Go template' }),
    'limit': Flags.integer({ description: 'Max number of search results' }),
    'no-trunc': Flags.boolean({ description: 'Don\'t truncate output' }),
  };

  async run(): Promise<void> {
    const { flags, args } = await this.parse(Search);
    const client = await this.ctx.client();
    const results = await client.images.search(args[0]!, { limit: flags.limit, filters: parseFilters(flags.filter) });
    this.ctx.out(renderList(flags.format ?? '', TABLE, results.map((r) => new SearchContext(r, !flags['no-trunc'])), HEADERS));
  }
}
