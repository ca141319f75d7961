import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';

export default class NetworkConnect extends Command {
  static override usage = '[OPTIONS] NETWORK CONTAINER';
  static override examples = ['berth network connect app web', 'berth network connect --alias db --ip 10.10.0.5 app postgres'];
  static override args = [Args.string('network', { required: true }), Args.string('container', { required: true })];
  static override flags = {
    'alias': Flags.strings({ description: 'Add network-scoped alias for the container', helpValue: 'strings' }),
    'driver-opt': Flags.strings({ description: 'driver options for the network', helpValue: 'strings' }),
    'gw-priority': Flags.integer({ description: 'Highest gw-priority provides the default gateway. Accepts positive and negative values.' }),
    'ip': Flags.string({ description: 'IPv4 address (e.g., "172.30.100.104")' }),
    'ip6': Flags.string({ description: 'IPv6 address (e.g., "2001:db8::33")' }),
    'link': Flags.strings({ description: 'Add link to another container' }),
    'link-local-ip': Flags.strings({ description: 'Add a link-local address for the container', helpValue: 'strings' }),
  };

  async run(): Promise<void> {
    const { flags, args } = await this.parse(NetworkConnect);
    const client = await this.ctx.client();
    const driverOpts = Object.fromEntries(flags['driver-opt'].map((o) => {
      const i = o.indexOf('=');
      return i < 0 ? [o, ''] : [o.slice(0, i), o.slice(i + 1)];
    }));
    await client.networks.connect(args[0]!, args[1]!, {
      IPAMConfig: flags.ip || flags.ip6 || flags['link-local-ip'].length
        ? { IPv4Address: flags.ip, IPv6Address: flags.ip6, LinkLocalIPs: flags['link-local-ip'] } : undefined,
      Links: flags.link.length ? flags.link : undefined, Aliases: flags.alias.length ? flags.alias : undefined,
      DriverOpts: Object.keys(driverOpts).length ? driverOpts : undefined, GwPriority: flags['gw-priority'],
    });
  }
}
