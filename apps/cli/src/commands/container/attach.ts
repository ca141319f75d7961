import { CliError } from '../../framework/errors.ts';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { monitorTtySize, proxySignals, pumpStreams } from '../../lib/streams.ts';
import { isTTY } from '../../context.ts';

export default class ContainerAttach extends Command {
  static override usage = '[OPTIONS] CONTAINER';
  static override examples = ['berth attach shell', 'berth attach --no-stdin web', 'berth attach --detach-keys ctrl-x shell'];
  static override args = [Args.string('container', { required: true })];
  static override flags = {
    'detach-keys': Flags.string({ description: 'Override the key sequence for detaching a container' }),
    'no-stdin': Flags.boolean({ description: 'Do not attach STDIN' }),
    'sig-proxy': Flags.boolean({ description: 'Proxy all received signals to the process', default: true }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ContainerAttach);
    const client = await this.ctx.client();
    const c = await client.containers.inspect(args[0]!);
    if (!c.State.Running) this.error('You cannot attach to a stopped container, start it first');
    if (c.State.Paused) this.error('You cannot attach to a paused container, unpause it first');
    if (c.State.Restarting) this.error('You cannot attach to a restarting container, wait until it is running');
    const tty = c.Config.Tty === true;
    const stdin = !flags['no-stdin'] && c.Config.OpenStdin === true;
    if (tty && stdin && !isTTY(0)) this.error('the input device is not a TTY');
    const detachKeys = flags['detach-keys'] ?? (await this.ctx.config()).data.detachKeys;
    const { socket } = await client.containers.attach(c.Id, { stream: true, stdin, stdout: true, stderr: true, detachKeys });
    this.ctx.flush();
    const streams = pumpStreams(socket, { tty, stdin, detachKeys });
    const stopResize = tty && isTTY(1) ? monitorTtySize((h, w) => client.containers.resize(c.Id, h, w)) : () => {};
    const stopSignals = flags['sig-proxy'] && !tty ? proxySignals((sig) => client.containers.kill(c.Id, sig)) : () => {};
    try {
      const { detached } = await streams.done;
      // docker's attach and exec report a detach as an error (start -ai and run -it do not)
      if (detached) throw new CliError('read escape sequence', 1);
      const after = await client.containers.inspect(c.Id);
      if (after.State.Running) return 0;
      return after.State.ExitCode;
    } finally {
      stopResize();
      stopSignals();
    }
  }
}
