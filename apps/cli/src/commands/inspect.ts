import { seg, type DockerClient } from '@berth/docker-api';
import { Command } from '../framework/command.ts';
import { Args, Flags } from '../framework/flags.ts';
import { isFatal, isNotFound } from '../lib/describe.ts';
import { INSPECT_FORMAT_HELP } from '../lib/help-text.ts';
import { getRaw, inspectAll, type Found } from '../lib/inspect.ts';

const TYPES = ['container', 'image', 'network', 'volume'] as const;
type ObjectType = (typeof TYPES)[number];

export default class Inspect extends Command {
  static override usage = '[OPTIONS] NAME|ID [NAME|ID...]';
  static override examples = ['berth inspect web', 'berth inspect --type image busybox', 'berth inspect -f "{{.State.Pid}}" web'];
  static override args = [Args.string('name', { required: true, multiple: true })];
  static override flags = {
    format: Flags.string({ char: 'f', description: INSPECT_FORMAT_HELP }),
    size: Flags.boolean({ char: 's', description: 'Display total file sizes if the type is container' }),
    type: Flags.string({ description: 'Only inspect objects of the given type' }),
  };

  async run(): Promise<number> {
    const { args, flags } = await this.parse(Inspect);
    if (flags.type !== undefined && !(TYPES as readonly string[]).includes(flags.type)) {
      this.error(`"${flags.type}" is not a valid value for --type`);
    }
    const client = await this.ctx.client();
    const types: readonly ObjectType[] = flags.type ? [flags.type as ObjectType] : TYPES;
    return inspectAll(this, args, flags.format, (name) => lookup(client, name, types, flags.size), (name) => `Error: No such object: ${name}`);
  }
}

async function lookup(client: DockerClient, name: string, types: readonly ObjectType[], size: boolean): Promise<Found> {
  let last: unknown;
  for (const t of types) {
    try {
      switch (t) {
        case 'container': return await getRaw(client, `/containers/${seg(name)}/json`, { size: size || undefined });
        case 'image': return await getRaw(client, `/images/${seg(name)}/json`);
        case 'network': return await getRaw(client, `/networks/${seg(name)}`);
        case 'volume': return await getRaw(client, `/volumes/${seg(name)}`);
      }
    } catch (err) {
      if (isFatal(err)) throw err;
      // a malformed name for one type (400) is just "not this type"
      if (!isNotFound(err) && !(err instanceof Error && /invalid reference format/i.test(err.message))) {
        last = err;
      }
    }
  }
  throw last ?? new Error(`No such object: ${name}`);
}
