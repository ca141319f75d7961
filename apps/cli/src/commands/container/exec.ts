import { CliError } from '../../framework/errors.ts';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { readFileSync } from 'node:fs';
import { monitorTtySize, pumpStreams } from '../../lib/streams.ts';
import { isTTY, stdout } from '../../context.ts';

export default class ContainerExec extends Command {
  static override usage = '[OPTIONS] CONTAINER COMMAND [ARG...]';
  static override examples = ['berth exec web ls /', 'berth exec -it web sh', 'berth exec -d web touch /tmp/x', 'berth exec -e A=1 -w /tmp web env'];
  static override args = [Args.string('container', { required: true }), Args.string('command', { required: true, multiple: true })];
  static override interspersed = false;
  static override flags = {
    'detach': Flags.boolean({ char: 'd', description: 'Detached mode: run command in the background' }),
    'detach-keys': Flags.string({ description: 'Override the key sequence for detaching a container' }),
    'env': Flags.strings({ char: 'e', description: 'Set environment variables' }),
    'env-file': Flags.strings({ description: 'Read in a file of environment variables' }),
    'interactive': Flags.boolean({ char: 'i', description: 'Keep STDIN open even if not attached' }),
    'privileged': Flags.boolean({ description: 'Give extended privileges to the command' }),
    'tty': Flags.boolean({ char: 't', description: 'Allocate a pseudo-TTY' }),
    'user': Flags.string({ char: 'u', description: 'Username or UID (format: "<name|uid>[:<group|gid>]")' }),
    'workdir': Flags.string({ char: 'w', description: 'Working directory inside the container' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ContainerExec);
    const [container, ...cmd] = args as [string, ...string[]];
    if (flags.tty && flags.interactive && !flags.detach && !isTTY(0)) this.error('the input device is not a TTY');
    const env = [...envFiles(flags['env-file']), ...flags.env];
    const detachKeys = flags['detach-keys'] ?? (await this.ctx.config()).data.detachKeys;
    const client = await this.ctx.client();
    const size: [number, number] | undefined = flags.tty && isTTY(1) ? (() => {
      const [w, h] = stdout().getWindowSize();
      return [h, w] as [number, number];
    })() : undefined;
    const { Id: execId } = await client.exec.create(container, {
      AttachStdin: flags.interactive && !flags.detach, AttachStdout: !flags.detach, AttachStderr: !flags.detach,
      Tty: flags.tty, Cmd: cmd, Env: env.length ? env : undefined, User: flags.user, WorkingDir: flags.workdir,
      Privileged: flags.privileged, DetachKeys: detachKeys, ConsoleSize: size,
    });
    if (flags.detach) {
      await client.exec.startDetached(execId, { Tty: flags.tty });
      return 0;
    }
    const { socket } = await client.exec.start(execId, { Tty: flags.tty, ConsoleSize: size });
    this.ctx.flush();
    const streams = pumpStreams(socket, { tty: flags.tty, stdin: flags.interactive, detachKeys });
    const stopResize = flags.tty && isTTY(1) ? monitorTtySize((h, w) => client.exec.resize(execId, h, w)) : () => {};
    try {
      const { detached } = await streams.done;
      // as docker's exec: a detach is reported as an error (start -ai and run -it do not)
      if (detached) throw new CliError('read escape sequence', 1);
    } finally {
      stopResize();
    }
    let info = await client.exec.inspect(execId);
    for (let i = 0; i < 20 && info.Running; i++) {
      await new Promise((r) => setTimeout(r, 50));
      info = await client.exec.inspect(execId);
    }
    return info.ExitCode ?? 0;
  }
}

function envFiles(files: string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split(/\r?\n/)) {
      const l = line.trim();
      if (l && !l.startsWith('#')) out.push(l.includes('=') ? l : `${l}=${process.env[l] ?? ''}`);
    }
  }
  return out;
}
