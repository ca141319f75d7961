import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { CliError } from '../../framework/errors.ts';
import { createContainer } from '../../lib/create.ts';
import { runError } from '../../lib/run-errors.ts';
import { CONTAINER_FLAGS } from '../../lib/run-flags.ts';
import { OptionError, buildCreateSpec } from '../../lib/run-options.ts';
import { monitorTtySize, proxySignals, pumpStreams, type StreamSession } from '../../lib/streams.ts';
import { isTTY } from '../../context.ts';

export default class ContainerRun extends Command {
  static override usage = '[OPTIONS] IMAGE [COMMAND] [ARG...]';
  static override examples = [
    'berth run --rm hello-world',
    'berth run -it busybox sh',
    'berth run -d --name web -p 8080:80 nginx',
    'berth run --rm -v "$PWD":/work -w /work busybox ls',
  ];

  static override args = [Args.string('image', { required: true }), Args.string('command', { multiple: true })];
  static override interspersed = false;
  static override flags = {
    ...CONTAINER_FLAGS,
    'detach': Flags.boolean({ char: 'd', description: 'Run container in background and print container ID' }),
    'sig-proxy': Flags.boolean({ description: 'Proxy received signals to the process', default: true }),
  };

  async run(): Promise<number> {
    const { flags, args, changed } = await this.parse(ContainerRun);
    let streams: StreamSession | undefined;
    let stopResize = () => {};
    let stopSignals = () => {};
    try {
      const spec = buildCreateSpec(flags, changed, args[0]!, args.slice(1));
      const cfg = spec.body;
      if (flags.rm && cfg.HostConfig?.RestartPolicy && !['', 'no'].includes(cfg.HostConfig.RestartPolicy.Name)) {
        throw new OptionError('conflicting options: cannot specify both --restart and --rm');
      }
      if (flags.detach) {
        if (flags.attach.length) throw new OptionError('conflicting options: cannot specify both --attach and --detach');
        cfg.AttachStdin = false;
        cfg.AttachStdout = false;
        cfg.AttachStderr = false;
        cfg.StdinOnce = false;
      }
      const stdinTTY = isTTY(0);
      if (cfg.Tty && cfg.AttachStdin && !stdinTTY) throw new CliError('the input device is not a TTY', 1);
      const detachKeys = flags['detach-keys'] ?? (await this.ctx.config()).data.detachKeys;
      const client = await this.ctx.client();
      const id = await createContainer(this.ctx, client, spec, { pull: flags.pull, quiet: flags.quiet, cidfile: flags.cidfile });

      if (flags.detach) {
        try {
          await client.containers.start(id);
        } catch (err) {
          throw runError(err, this.path, true, true);
        }
        this.log(id);
        return 0;
      }
      const attaching = cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr;
      if (attaching) {
        const { socket } = await client.containers.attach(id, {
          stream: true, stdin: cfg.AttachStdin, stdout: cfg.AttachStdout, stderr: cfg.AttachStderr, detachKeys,
        });
        this.ctx.flush();
        streams = pumpStreams(socket, { tty: cfg.Tty === true, stdin: cfg.AttachStdin === true, detachKeys });
      }
      const waiter = await client.containers.waitArmed(id, flags.rm ? 'removed' : 'next-exit');
      // signals that arrive while the container starts are forwarded too
      if (flags['sig-proxy'] && !cfg.Tty) stopSignals = proxySignals((sig) => client.containers.kill(id, sig));
      try {
        await client.containers.start(id);
      } catch (err) {
        streams?.close();
        throw runError(err, this.path, true, true);
      }
      if (cfg.Tty && isTTY(1)) stopResize = monitorTtySize((h, w) => client.containers.resize(id, h, w));
      if (streams) {
        const { detached } = await streams.done;
        if (detached) return 0;
      }
      const result = await waiter.result;
      if (result.Error?.Message) throw new CliError(`${result.Error.Message}`, 125);
      return result.StatusCode;
    } catch (err) {
      streams?.close();
      throw runError(err, this.path, true);
    } finally {
      stopResize();
      stopSignals();
    }
  }
}
