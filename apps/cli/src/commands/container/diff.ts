import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { renderList } from '../../format/formatter.ts';

const KINDS = ['C', 'A', 'D'];

export default class ContainerDiff extends Command {
  static override usage = 'CONTAINER';
  static override examples = ['berth diff web'];
  static override args = [Args.string('container', { required: true })];
  static override flags = {
    format: Flags.string({ description: 'Format output using a custom template', hidden: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ContainerDiff);
    const client = await this.ctx.client();
    const changes = (await client.containers.changes(args[0]!)) ?? [];
    const items = changes.map((c) => ({ Type: KINDS[c.Kind] ?? '?', Path: c.Path }));
    this.ctx.out(renderList(flags.format ?? '{{.Type}} {{.Path}}', 'table {{.Type}}\t{{.Path}}', items, { Type: 'CHANGE TYPE', Path: 'PATH' }));
  }
}
