// berth-runc events [--stats] [--interval 5s] ID: JSON lines on stdout, {"type":"stats","id":…,"data":…}
// every interval (once with --stats) and {"type":"oom","id":…} when the kernel kills for memory.
import { InvalidArgumentError } from '@berth/errdefs';
import type { Command } from '../context.ts';
import { bool, need, parseFlags, str } from '../flags.ts';

export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`invalid duration ${JSON.stringify(v)}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms'];
}

export const events: Command = async (argv, ctx) => {
  const p = parseFlags(argv, [{ name: 'stats', type: 'bool' }, { name: 'interval', type: 'string' }]);
  const [id] = need(p, 1, 'events', '[command options] <container-id>');
  const rt = ctx.runtime();
  const emit = (type: string, data?: unknown) => process.stdout.write(`${JSON.stringify({ type, id, ...(data ? { data } : {}) })}\n`);
  if (bool(p, 'stats')) {
    emit('stats', rt.stats(id!));
    return 0;
  }
  const interval = parseDuration(str(p, 'interval') ?? '5s');
  const stopOom = rt.oomEvents(id!, () => emit('oom'));
  await new Promise<void>((resolve) => {
    const tick = () => {
      if (rt.state(id!).status === 'stopped') {
        clearInterval(timer);
        resolve();
        return;
      }
      emit('stats', rt.stats(id!));
    };
    const timer = setInterval(tick, interval);
    tick();
  });
  stopOom();
  return 0;
};
