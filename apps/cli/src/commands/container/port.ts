import { Command } from '../../framework/command.ts';
import { Args } from '../../framework/flags.ts';
import { joinHostPort } from '../../lib/ports.ts';

export default class ContainerPort extends Command {
  static override usage = 'CONTAINER [PRIVATE_PORT[/PROTO]]';
  static override examples = ['berth port web', 'berth port web 80/tcp'];
  static override args = [Args.string('container', { required: true }), Args.string('port')];

  async run(): Promise<void> {
    const { args } = await this.parse(ContainerPort);
    const [name, port] = args as [string, string | undefined];
    const client = await this.ctx.client();
    const c = await client.containers.inspect(name);
    const ports = c.NetworkSettings?.Ports ?? {};
    const out: string[] = [];
    if (port !== undefined) {
      const key = port.includes('/') ? port : `${port}/tcp`;
      const frontends = ports[key];
      if (!frontends || frontends.length === 0) this.error(`Error: No public port '${key}' published for ${name}`);
      for (const f of frontends) out.push(joinHostPort(f.HostIp ?? '', f.HostPort ?? ''));
    } else {
      for (const [from, frontends] of Object.entries(ports)) {
        for (const f of frontends ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp ?? '', f.HostPort ?? '')}`);
      }
    }
    if (out.length) this.log(out.sort(naturalLess).join('\n'));
  }
}

function naturalLess(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
