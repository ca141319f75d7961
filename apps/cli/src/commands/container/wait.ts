import { Command } from '../../framework/command.ts';
import { Args } from '../../framework/flags.ts';
import { describeError, isFatal } from '../../lib/describe.ts';

export default class ContainerWait extends Command {
  static override usage = 'CONTAINER [CONTAINER...]';
  static override examples = ['berth wait job', 'berth wait job1 job2'];
  static override args = [Args.string('container', { required: true, multiple: true })];

  async run(): Promise<number> {
    const { args } = await this.parse(ContainerWait);
    const client = await this.ctx.client();
    let failed = false;
    for (const id of args) {
      try {
        const r = await client.containers.wait(id, 'not-running');
        if (r.Error?.Message) throw new Error(r.Error.Message);
        this.log(String(r.StatusCode));
      } catch (err) {
        if (isFatal(err)) throw err;
        this.warn(describeError(err));
        failed = true;
      }
    }
    return failed ? 1 : 0;
  }
}
