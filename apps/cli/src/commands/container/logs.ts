import { demuxStream } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { parseTimestamp } from '../../lib/time.ts';
import { stdout } from '../../context.ts';

export default class ContainerLogs extends Command {
  static override usage = '[OPTIONS] CONTAINER';
  static override examples = ['berth logs web', 'berth logs -f --tail 10 web', 'berth logs --since 5m -t web'];
  static override args = [Args.string('container', { required: true })];
  static override flags = {
    details: Flags.boolean({ description: 'Show extra details provided to logs' }),
    follow: Flags.boolean({ char: 'f', description: 'Follow log output' }),
    since: Flags.string({ description: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' }),
    tail: Flags.string({ char: 'n', description: 'Number of lines to show from the end of the logs', default: 'all' }),
    timestamps: Flags.boolean({ char: 't', description: 'Show timestamps' }),
    until: Flags.string({ description: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ContainerLogs);
    const client = await this.ctx.client();
    const c = await client.containers.inspect(args[0]!);
    const body = await client.containers.logs(args[0]!, {
      follow: flags.follow, stdout: true, stderr: true, timestamps: flags.timestamps, details: flags.details, tail: flags.tail,
      since: flags.since ? parseTimestamp(flags.since) : undefined, until: flags.until ? parseTimestamp(flags.until) : undefined,
    });
    this.ctx.flush();
    if (c.Config?.Tty) {
      for await (const chunk of body) if (!stdout().write(chunk as Buffer)) await new Promise((r) => stdout().once('drain', r));
    } else {
      await demuxStream(body, stdout(), process.stderr);
    }
  }
}
