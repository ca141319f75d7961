import { Command } from '../framework/command.ts';
import { Args } from '../framework/flags.ts';
import { INDEX_SERVER, registryKey } from '../config-file.ts';

export default class Logout extends Command {
  static override usage = '[SERVER]';
  static override description = 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.';
  static override examples = ['berth logout 127.0.0.1:5000'];
  static override args = [Args.string('server')];

  async run(): Promise<number> {
    const { args } = await this.parse(Logout);
    const server = args[0] ? registryKey(args[0]) : INDEX_SERVER;
    const cfg = await this.ctx.config();
    if (!cfg.getAuth(server) && !cfg.data.auths?.[server]) {
      this.log(`Not logged in to ${server}`);
      return 0;
    }
    this.log(`Removing login credentials for ${server}`);
    cfg.eraseAuth(server);
    return 0;
  }
}
