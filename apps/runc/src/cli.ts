// berth-runc: runc's command line over @berth/runtime. One file per verb in commands/; this file parses the
// global flags, dispatches, and turns errors into runc's behaviour (message on stderr and in --log, exit 1).
import { Context, type Command } from './context.ts';
import { bool, parseFlags, str } from './flags.ts';
import { Log } from './log.ts';
import { create } from './commands/create.ts';
import { deleteCmd } from './commands/delete.ts';
import { events } from './commands/events.ts';
import { exec } from './commands/exec.ts';
import { features } from './commands/features.ts';
import { kill } from './commands/kill.ts';
import { list } from './commands/list.ts';
import { pause, resume } from './commands/pause.ts';
import { ps } from './commands/ps.ts';
import { run } from './commands/run.ts';
import { spec } from './commands/spec.ts';
import { start } from './commands/start.ts';
import { state } from './commands/state.ts';
import { update } from './commands/update.ts';

export const VERSION = '0.1.0';
export const SPEC_VERSION = '1.1.0';

const COMMANDS: Record<string, Command> = {
  create, start, run, state, kill, delete: deleteCmd, exec, ps, pause, resume, update, events, list, ls: list, spec, features,
};

const GLOBALS = [
  { name: 'root', type: 'string' as const },
  { name: 'log', type: 'string' as const },
  { name: 'log-format', type: 'string' as const },
  { name: 'systemd-cgroup', type: 'bool' as const },
  { name: 'debug', type: 'bool' as const },
  { name: 'criu', type: 'string' as const },
  { name: 'rootless', type: 'string' as const },
  { name: 'version', alias: 'v', type: 'bool' as const },
  { name: 'help', alias: 'h', type: 'bool' as const },
];

const USAGE = `berth-runc: runc's command line for berth

usage: berth-runc [global options] command [command options] [arguments...]

commands: ${Object.keys(COMMANDS).join(', ')}

global options:
  --root value         root directory for storage of container state (default: "/run/berth-runc")
  --log value          append errors to this file
  --log-format value   "text" (default) or "json"
  --systemd-cgroup     cgroupsPath is systemd's "slice:prefix:name"
  --version, -v        print the version
`;

export async function main(argv: string[]): Promise<number> {
  let log = new Log(undefined, undefined);
  try {
    const g = parseFlags(argv, GLOBALS);
    log = new Log(str(g, 'log'), str(g, 'log-format'));
    if (bool(g, 'version')) {
      process.stdout.write(`berth-runc version ${VERSION}\nspec: ${SPEC_VERSION}\n`);
      return 0;
    }
    const [name, ...rest] = g.args;
    if (!name || bool(g, 'help') || name === 'help') {
      process.stdout.write(USAGE);
      return name || bool(g, 'help') ? 0 : 1;
    }
    const command = COMMANDS[name];
    if (!command) throw new Error(`No help topic for '${name}'`);
    const ctx = new Context({ root: str(g, 'root') ?? '/run/berth-runc', systemdCgroup: bool(g, 'systemd-cgroup') }, log);
    return await command(rest, ctx);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log.write('error', msg);
    process.stderr.write(`berth-runc: ${msg}\n`);
    return 1;
  }
}
