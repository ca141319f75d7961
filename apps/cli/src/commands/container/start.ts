import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { CliError } from '../../framework/errors.ts';
import { describeError, isFatal } from '../../lib/describe.ts';
import { monitorTtySize, proxySignals, pumpStreams } from '../../lib/streams.ts';
import { isTTY } from '../../context.ts';

export default class ContainerStart extends Command {
  static override usage = '[OPTIONS] CONTAINER [CONTAINER...]';
  static override examples = ['berth start web', 'berth start -ai shell'];
  static override args = [Args.string('container', { required: true, multiple: true })];
  static override flags = {
    'attach': Flags.boolean({ char: 'a', description: 'Attach STDOUT/STDERR and forward signals' }),
    'detach-keys': Flags.string({ description: 'Override the key sequence for detaching a container' }),
    'interactive': Flags.boolean({ char: 'i', description: 'Attach container\'s STDIN' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ContainerStart);
    const client = await this.ctx.client();
    if (flags.attach || flags.interactive) {
      if (args.length > 1) this.error('you cannot start and attach multiple containers at once');
      const c = await client.containers.inspect(args[0]!);
      const tty = c.Config.Tty === true;
      const stdin = flags.interactive && c.Config.OpenStdin === true;
      if (tty && stdin && !isTTY(0)) this.error('the input device is not a TTY');
      const detachKeys = flags['detach-keys'] ?? (await this.ctx.config()).data.detachKeys;
      const { socket } = await client.containers.attach(c.Id, { stream: true, stdin, stdout: true, stderr: true, detachKeys });
      this.ctx.flush();
      const streams = pumpStreams(socket, { tty, stdin, detachKeys });
      const waiter = await client.containers.waitArmed(c.Id, 'next-exit');
      const stopSignals = !tty ? proxySignals((sig) => client.containers.kill(c.Id, sig)) : () => {};
      try {
        await client.containers.start(c.Id);
      } catch (err) {
        streams.close();
        stopSignals();
        throw err;
      }
      const stopResize = tty && isTTY(1) ? monitorTtySize((h, w) => client.containers.resize(c.Id, h, w)) : () => {};
      try {
        const { detached } = await streams.done;
        if (detached) return 0;
        return (await waiter.result).StatusCode;
      } finally {
        stopResize();
        stopSignals();
      }
    }
    const failed: string[] = [];
    for (const id of args) {
      try {
        await client.containers.start(id);
        this.log(id);
      } catch (err) {
        if (isFatal(err)) throw err;
        this.warn(describeError(err));
        failed.push(id);
      }
    }
    if (failed.length) throw new CliError(`Error: failed to start containers: ${failed.join(', ')}`, 1);
    return 0;
  }
}
