import { jsonLines, type EventMessage } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { compile, execute, templateSource } from '../../format/formatter.ts';
import { parseFilters } from '../../lib/filters.ts';
import { parseTimestamp } from '../../lib/time.ts';
import { stdout } from '../../context.ts';

export default class SystemEvents extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth events', 'berth events --since 10m --until 0s', 'berth events -f type=container -f event=start --format "{{.Actor.Attributes.name}}"'];
  static override flags = {
    filter: Flags.strings({ char: 'f', description: 'Filter output based on conditions provided', helpValue: 'filter' }),
    format: Flags.string({ description: 'Format output using a custom template' }),
    since: Flags.string({ description: 'Show all events created since timestamp' }),
    until: Flags.string({ description: 'Stream events until this timestamp' }),
  };

  async run(): Promise<number> {
    const { flags } = await this.parse(SystemEvents);
    const template = flags.format ? compile(templateSource(flags.format, '')) : undefined;
    const client = await this.ctx.client();
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const body = await client.system.events({
        since: flags.since ? parseTimestamp(flags.since) : undefined, until: flags.until ? parseTimestamp(flags.until) : undefined,
        filters: parseFilters(flags.filter),
      }, ac.signal);
      // timeNano exceeds 2^53: keep its digits exact
      const exact = (key: string, value: unknown, context?: { source?: string }) =>
        (key === 'timeNano' && context?.source ? BigInt(context.source) : value);
      for await (const ev of jsonLines<EventMessage>(body, exact)) {
        stdout().write(template ? `${execute(template, ev)}\n` : `${formatEvent(ev)}\n`);
      }
    } catch (err) {
      if (ac.signal.aborted) return 0;
      throw err;
    }
    return 0;
  }
}

/** docker's default event line: `2024-01-02T15:04:05.000000000Z container start abc… (image=busybox, name=x)`. */
export function formatEvent(ev: EventMessage): string {
  const tn = ev.timeNano as number | bigint | undefined;
  const nanos = typeof tn === 'bigint' ? tn : BigInt(tn ?? ev.time * 1e9);
  const secs = Number(nanos / 1_000_000_000n);
  const frac = String(nanos % 1_000_000_000n).padStart(9, '0');
  const d = new Date(secs * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  const ts = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${frac}${zone}`;
  const attrs = Object.entries(ev.Actor?.Attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`);
  return `${ts} ${ev.Type} ${ev.Action} ${ev.Actor?.ID ?? ''}${attrs.length ? ` (${attrs.join(', ')})` : ''}`;
}
