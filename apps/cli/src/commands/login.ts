import { Command } from '../framework/command.ts';
import { Args, Flags } from '../framework/flags.ts';
import { INDEX_SERVER, registryKey } from '../config-file.ts';
import { readAll } from '@berth/docker-api';
import { isTTY, stdout } from '../context.ts';

export default class Login extends Command {
  static override usage = '[OPTIONS] [SERVER]';
  static override description = 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.';
  static override examples = ['berth login 127.0.0.1:5000', 'echo "$TOKEN" | berth login -u me --password-stdin registry.example.com'];
  static override args = [Args.string('server')];
  static override flags = {
    'password': Flags.string({ char: 'p', description: 'Password or Personal Access Token (PAT)' }),
    'password-stdin': Flags.boolean({ description: 'Take the Password or Personal Access Token (PAT) from stdin' }),
    'username': Flags.string({ char: 'u', description: 'Username' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(Login);
    let password = flags.password;
    let username = flags.username;
    if (password !== undefined) this.warn('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
    if (flags['password-stdin']) {
      if (password !== undefined) this.error('--password and --password-stdin are mutually exclusive');
      if (username === undefined) this.error('Must provide --username with --password-stdin');
      password = (await readAll(process.stdin)).toString('utf8').replace(/\r?\n$/, '');
    }
    const server = args[0] ? registryKey(args[0]) : INDEX_SERVER;
    const cfg = await this.ctx.config();
    if (username === undefined || password === undefined) {
      if (!isTTY(0)) this.error('Error: Cannot perform an interactive login from a non TTY device');
      const stored = cfg.getAuth(server);
      username ??= await prompt(`Username${stored?.username ? ` (${stored.username})` : ''}: `, true) || stored?.username;
      if (!username) this.error('Error: Non-null Username Required');
      password ??= await prompt('Password: ', false);
      if (!password) this.error('Error: Password Required');
    }
    const client = await this.ctx.client();
    const r = await client.system.auth({ username, password, serveraddress: server });
    const auth = r.IdentityToken
      ? { username, identitytoken: r.IdentityToken, serveraddress: server }
      : { username, password, serveraddress: server };
    cfg.storeAuth(server, auth);
    if (!cfg.data.credsStore && !cfg.data.credHelpers?.[server]) {
      this.warn(`\nWARNING! Your credentials are stored unencrypted in '${cfg.file}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n`);
    }
    this.log(r.Status || 'Login Succeeded');
    return 0;
  }
}

/** Reads one line from the terminal; without echo for passwords. */
async function prompt(question: string, echo: boolean): Promise<string> {
  stdout().write(question);
  const stdin = process.stdin;
  if (!echo) stdin.setRawMode(true);
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.off('data', onData);
          stdin.pause();
          if (!echo) {
            stdin.setRawMode(false);
            stdout().write('\n');
          }
          resolve(buf.trim());
          return;
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
