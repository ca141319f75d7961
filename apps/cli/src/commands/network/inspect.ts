import { seg } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { INSPECT_FORMAT_HELP } from '../../lib/help-text.ts';
import { getRaw, inspectAll } from '../../lib/inspect.ts';

export default class NetworkInspect extends Command {
  static override usage = '[OPTIONS] NETWORK [NETWORK...]';
  static override examples = ['berth network inspect bridge', 'berth network inspect -f "{{range .IPAM.Config}}{{.Subnet}}{{end}}" bridge'];
  static override args = [Args.string('network', { required: true, multiple: true })];
  static override flags = {
    format: Flags.string({ char: 'f', description: INSPECT_FORMAT_HELP }),
    verbose: Flags.boolean({ char: 'v', description: 'Verbose output for diagnostics' }),
  };

  async run(): Promise<number> {
    const { args, flags } = await this.parse(NetworkInspect);
    const client = await this.ctx.client();
    return inspectAll(this, args, flags.format, (n) => getRaw(client, `/networks/${seg(n)}`, { verbose: flags.verbose || undefined }));
  }
}
