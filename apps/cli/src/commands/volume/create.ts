import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';

export default class VolumeCreate extends Command {
  static override usage = '[OPTIONS] [VOLUME]';
  static override examples = ['berth volume create data', 'berth volume create -o type=tmpfs -o device=tmpfs -o o=size=64m scratch'];
  static override args = [Args.string('volume')];
  static override flags = {
    driver: Flags.string({ char: 'd', description: 'Specify volume driver name', default: 'local' }),
    label: Flags.strings({ description: 'Set metadata for a volume' }),
    name: Flags.string({ description: 'Specify volume name', hidden: true }),
    opt: Flags.strings({ char: 'o', description: 'Set driver specific options', helpValue: 'map' }),
  };

  async run(): Promise<void> {
    const { flags, args } = await this.parse(VolumeCreate);
    if (args[0] && flags.name && args[0] !== flags.name) this.error(`conflicting options: cannot specify a volume-name through both --name and as a positional arg`);
    const kv = (list: string[]) => Object.fromEntries(list.map((e) => {
      const i = e.indexOf('=');
      return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
    }));
    const client = await this.ctx.client();
    const v = await client.volumes.create({ Name: args[0] ?? flags.name ?? '', Driver: flags.driver, DriverOpts: kv(flags.opt), Labels: kv(flags.label) });
    this.log(v.Name);
  }
}
