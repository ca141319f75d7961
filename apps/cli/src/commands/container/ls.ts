import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { compile, renderList, templateSource } from '../../format/formatter.ts';
import { TemplateError } from '../../format/template/index.ts';
import type { ContainerSummary } from '@berth/docker-api';
import { CONTAINER_HEADERS, CONTAINER_TABLE, ContainerContext } from '../../contexts/container.ts';
import { parseFilters } from '../../lib/filters.ts';
import { FORMAT_HELP } from '../../lib/help-text.ts';

const EMPTY_SUMMARY: ContainerSummary = {
  Id: '', Names: [], Image: '', ImageID: '', Command: '', Created: 0, Ports: [], Labels: {}, State: 'created', Status: '',
  HostConfig: { NetworkMode: '' }, NetworkSettings: null, Mounts: [],
};

export default class ContainerLs extends Command {
  static override usage = '[OPTIONS]';
  static override examples = [
    'berth ps -a',
    'berth ps --filter status=exited -q',
    'berth ps --format "table {{.Names}}\\t{{.Status}}"',
    'berth ps --format json',
  ];

  static override flags = {
    'all': Flags.boolean({ char: 'a', description: 'Show all containers (default shows just running)' }),
    'filter': Flags.strings({ char: 'f', description: 'Filter output based on conditions provided', helpValue: 'filter' }),
    'format': Flags.string({ description: FORMAT_HELP }),
    'last': Flags.integer({ char: 'n', description: 'Show n last created containers (includes all states)', default: -1 }),
    'latest': Flags.boolean({ char: 'l', description: 'Show the latest created container (includes all states)' }),
    'no-trunc': Flags.boolean({ description: 'Don\'t truncate output' }),
    'quiet': Flags.boolean({ char: 'q', description: 'Only display container IDs' }),
    'size': Flags.boolean({ char: 's', description: 'Display total file sizes' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ContainerLs);
    const client = await this.ctx.client();
    let format = flags.format ?? '';
    if (format === '') {
      const cfg = await this.ctx.config();
      format = cfg.data.psFormat && !flags.quiet ? cfg.data.psFormat : 'table';
    }
    if (format === 'table') {
      format = flags.quiet ? '{{.ID}}' : flags.size ? `${CONTAINER_TABLE}\t{{.Size}}` : CONTAINER_TABLE;
    }
    if (flags.format) {
      // like docker, a custom template is checked against a container even when nothing is listed
      const t = compile(templateSource(flags.format, CONTAINER_TABLE));
      try {
        t.execute(new ContainerContext(EMPTY_SUMMARY, true));
      } catch (err) {
        if (err instanceof TemplateError) this.error(`failed to execute template: ${err.message}`);
        throw err;
      }
    }
    const size = flags.size || format.includes('.Size');
    let limit = flags.last;
    if (flags.latest) limit = 1;
    const containers = await client.containers.list({
      all: flags.all || limit !== -1, limit: limit === -1 ? undefined : limit, size, filters: parseFilters(flags.filter),
    });
    const items = containers.map((c) => new ContainerContext(c, !flags['no-trunc']));
    this.ctx.out(renderList(format, CONTAINER_TABLE, items, CONTAINER_HEADERS));
  }
}
