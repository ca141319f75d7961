import { Command } from '../../framework/command.ts';
import { Args } from '../../framework/flags.ts';
import { tabwrite } from '../../format/tabwriter.ts';

export default class ContainerTop extends Command {
  static override usage = 'CONTAINER [ps OPTIONS]';
  static override examples = ['berth top web', 'berth top web -o pid,comm'];
  static override args = [Args.string('container', { required: true }), Args.string('ps_options', { multiple: true })];
  static override interspersed = false;

  async run(): Promise<void> {
    const { args } = await this.parse(ContainerTop);
    const client = await this.ctx.client();
    const r = await client.containers.top(args[0]!, args.slice(1).join(' '));
    const lines = [r.Titles.join('\t'), ...(r.Processes ?? []).map((p) => p.join('\t'))];
    this.ctx.out(`${tabwrite(`${lines.join('\n')}\n`, { minwidth: 20, padding: 3 })}`);
  }
}
