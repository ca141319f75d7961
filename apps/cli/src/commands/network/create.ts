import type { IPAMConfig } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';

export default class NetworkCreate extends Command {
  static override usage = '[OPTIONS] NETWORK';
  static override examples = ['berth network create app', 'berth network create --subnet 10.10.0.0/24 --gateway 10.10.0.1 app'];
  static override args = [Args.string('network', { required: true })];
  static override flags = {
    'attachable': Flags.boolean({ description: 'Enable manual container attachment' }),
    'aux-address': Flags.strings({ description: 'Auxiliary IPv4 or IPv6 addresses used by Network driver', helpValue: 'map' }),
    'config-from': Flags.string({ description: 'The network from which to copy the configuration' }),
    'config-only': Flags.boolean({ description: 'Create a configuration only network' }),
    'driver': Flags.string({ char: 'd', description: 'Driver to manage the Network', default: 'bridge' }),
    'gateway': Flags.strings({ description: 'IPv4 or IPv6 Gateway for the master subnet', helpValue: 'strings' }),
    'ingress': Flags.boolean({ description: 'Create swarm routing-mesh network' }),
    'internal': Flags.boolean({ description: 'Restrict external access to the network' }),
    'ip-range': Flags.strings({ description: 'Allocate container ip from a sub-range', helpValue: 'strings' }),
    'ipam-driver': Flags.string({ description: 'IP Address Management Driver', default: 'default' }),
    'ipam-opt': Flags.strings({ description: 'Set IPAM driver specific options', helpValue: 'map' }),
    'ipv6': Flags.boolean({ description: 'Enable or disable IPv6 networking' }),
    'label': Flags.strings({ description: 'Set metadata on a network' }),
    'opt': Flags.strings({ char: 'o', description: 'Set driver specific options', helpValue: 'map' }),
    'scope': Flags.string({ description: 'Control the network\'s scope' }),
    'subnet': Flags.strings({ description: 'Subnet in CIDR format that represents a network segment', helpValue: 'strings' }),
  };

  async run(): Promise<void> {
    const { flags, args } = await this.parse(NetworkCreate);
    const kv = (list: string[]) => Object.fromEntries(list.map((e) => {
      const i = e.indexOf('=');
      return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
    }));
    if (flags.gateway.length > flags.subnet.length) this.error('every ip-range or gateway must have a corresponding subnet');
    if (flags['ip-range'].length > flags.subnet.length) this.error('every ip-range or gateway must have a corresponding subnet');
    const configs: IPAMConfig[] = flags.subnet.map((subnet, i) => ({
      Subnet: subnet, ...(flags['ip-range'][i] ? { IPRange: flags['ip-range'][i] } : {}), ...(flags.gateway[i] ? { Gateway: flags.gateway[i] } : {}),
    }));
    if (flags['aux-address'].length && configs[0]) configs[0].AuxiliaryAddresses = kv(flags['aux-address']);
    const client = await this.ctx.client();
    const r = await client.networks.create({
      Name: args[0]!, CheckDuplicate: true, Driver: flags.driver, Scope: flags.scope, Internal: flags.internal,
      Attachable: flags.attachable,
      Ingress: flags.ingress, ConfigOnly: flags['config-only'], ...(flags['config-from'] ? { ConfigFrom: { Network: flags['config-from'] } } : {}),
      EnableIPv6: flags.ipv6, IPAM: { Driver: flags['ipam-driver'], Config: configs, Options: kv(flags['ipam-opt']) },
      Options: kv(flags.opt), Labels: kv(flags.label),
    });
    if (r.Warning) this.warn(r.Warning);
    this.log(r.Id);
  }
}
