import { jsonLines, type ContainerStats as StatsSample, type DockerClient } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { renderList } from '../../format/formatter.ts';
import { STATS_HEADERS, STATS_TABLE, StatsContext, emptyEntry, entryFromSample, type StatsEntry } from '../../contexts/stats.ts';
import { describeError, isFatal } from '../../lib/describe.ts';
import { isTTY, stdout } from '../../context.ts';

export default class ContainerStats extends Command {
  static override usage = '[OPTIONS] [CONTAINER...]';
  static override examples = ['berth stats', 'berth stats --no-stream web', 'berth stats --format "{{.Name}}: {{.CPUPerc}}"'];
  static override args = [Args.string('container', { multiple: true })];
  static override flags = {
    'all': Flags.boolean({ char: 'a', description: 'Show all containers (default shows just running)' }),
    'format': Flags.string({ description: 'Format output using a custom template' }),
    'no-stream': Flags.boolean({ description: 'Disable streaming stats and only pull the first result' }),
    'no-trunc': Flags.boolean({ description: 'Do not truncate output' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ContainerStats);
    const client = await this.ctx.client();
    const format = flags.format ?? (await this.ctx.config()).data.statsFormat ?? '';
    const render = (entries: StatsEntry[]) => renderList(format, STATS_TABLE, entries.map((e) => new StatsContext(e, !flags['no-trunc'])), STATS_HEADERS);
    const explicit = args.length > 0;

    if (flags['no-stream']) {
      const targets = explicit ? args : (await client.containers.list({ all: flags.all })).map((c) => c.Id);
      let failed = false;
      const entries = await Promise.all(targets.map(async (t) => {
        try {
          return await oneSample(client, t);
        } catch (err) {
          if (isFatal(err)) throw err;
          this.warn(describeError(err));
          failed = true;
          return undefined;
        }
      }));
      this.ctx.out(render(entries.filter((e): e is StatsEntry => e !== undefined)));
      return failed ? 1 : 0;
    }

    // live: one streaming connection per container, the table redrawn every second
    const latest = new Map<string, StatsEntry>();
    const order: string[] = [];
    const streams = new Map<string, AbortController>();
    const follow = async (target: string) => {
      if (streams.has(target)) return;
      const ac = new AbortController();
      streams.set(target, ac);
      order.push(target);
      latest.set(target, emptyEntry(target, target, ''));
      try {
        const body = await client.containers.statsStream(target, ac.signal);
        for await (const s of jsonLines<StatsSample>(body)) latest.set(target, entryFromSample(target, s));
      } catch (err) {
        if (isFatal(err)) throw err;
        if (explicit && !ac.signal.aborted) {
          this.warn(describeError(err));
        }
      }
      if (!explicit) {
        streams.delete(target);
        latest.delete(target);
        order.splice(order.indexOf(target), 1);
      }
    };
    const refreshList = async () => {
      const list = await client.containers.list({ all: flags.all });
      for (const c of list) void follow(c.Id);
    };
    if (explicit) {
      for (const t of args) void follow(t);
    } else {
      await refreshList();
    }
    const tty = isTTY(1);
    let stop = false;
    const onSignal = () => {
      stop = true;
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        if (stop) break;
        if (!explicit) await refreshList().catch(() => {});
        const text = render(order.map((t) => latest.get(t)!).filter(Boolean));
        stdout().write(tty ? `\x1b[2J\x1b[H${text}` : text);
        if (stop) break;
      }
    } finally {
      for (const ac of streams.values()) ac.abort();
    }
    return 0;
  }
}

async function oneSample(client: DockerClient, target: string): Promise<StatsEntry> {
  const s = await client.containers.stats(target);
  const c = s.id ? undefined : await client.containers.inspect(target);
  return entryFromSample(target, { ...s, id: s.id ?? c?.Id, name: s.name ?? c?.Name });
}
