// berth-runc ps [--format table|json] ID [ps options]: json is the array of host pids (containerd's shim and
// `docker top` use it); table runs ps(1) (default -ef) and keeps the container's lines.
import type { Command } from '../context.ts';
import { need, parseFlags, str } from '../flags.ts';

export const ps: Command = async (argv, ctx) => {
  const p = parseFlags(argv, [{ name: 'format', alias: 'f', type: 'string' }]);
  const [id, ...psArgs] = need(p, 1, 'ps', '[command options] <container-id> [ps options]');
  const pids = ctx.runtime().ps(id!);
  if (str(p, 'format') === 'json') {
    process.stdout.write(`${JSON.stringify(pids)}\n`);
    return 0;
  }
  const { spawnSync } = process.getBuiltinModule('node:child_process');
  const r = spawnSync('ps', psArgs.length > 0 ? psArgs : ['-ef'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ps: ${r.stderr || `exit status ${r.status}`}`);
  const lines = r.stdout.split('\n');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new Error('couldn\'t find PID field in ps output');
  const wanted = new Set(pids.map(String));
  process.stdout.write(`${header}\n${lines.slice(1).filter((l) => wanted.has(l.trim().split(/\s+/)[col] ?? '')).map((l) => `${l}\n`).join('')}`);
  return 0;
};
