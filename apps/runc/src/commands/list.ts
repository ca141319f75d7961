// berth-runc list [--format table|json] [--quiet]
import type { Command } from '../context.ts';
import { bool, parseFlags, str } from '../flags.ts';

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

export const list: Command = async (argv, ctx) => {
  const p = parseFlags(argv, [{ name: 'format', alias: 'f', type: 'string' }, { name: 'quiet', alias: 'q', type: 'bool' }]);
  const states = ctx.runtime().list();
  if (bool(p, 'quiet')) {
    process.stdout.write(states.map((s) => `${s.id}\n`).join(''));
  } else if (str(p, 'format') === 'json') {
    process.stdout.write(`${JSON.stringify(states)}\n`);
  } else {
    process.stdout.write(table([
      ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
      ...states.map((s) => [s.id, String(s.status === 'stopped' ? 0 : s.pid), s.status, s.bundle, s.created, s.owner || 'root']),
    ]));
  }
  return 0;
};
