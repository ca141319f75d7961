import { Command } from '../framework/command.ts';
import { Flags } from '../framework/flags.ts';
import { renderEach } from '../format/formatter.ts';
import { MAX_API_VERSION, type SystemVersion } from '@berth/docker-api';
import { VERSION } from '../context.ts';
import { describeError } from '../lib/describe.ts';

export default class Version extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth version', 'berth version --format "{{.Server.Version}}"'];
  static override flags = {
    format: Flags.string({ char: 'f', description: 'Format output using a custom template:\n\'json\':             Print in JSON format\n\'TEMPLATE\':         Print output using the given Go template.' }),
  };

  async run(): Promise<number> {
    const { flags } = await this.parse(Version);
    const client = await this.ctx.client();
    let server: SystemVersion | undefined;
    let serverErr: unknown;
    let negotiated = MAX_API_VERSION;
    try {
      negotiated = await client.apiVersion();
      server = await client.system.version();
    } catch (err) {
      serverErr = err;
    }
    const clientInfo = {
      Version: VERSION, ApiVersion: negotiated, DefaultAPIVersion: MAX_API_VERSION, GitCommit: '', GoVersion: `node${process.versions.node}`,
      Os: process.platform, Arch: process.arch === 'x64' ? 'amd64' : process.arch, BuildTime: '', Context: 'default',
    };
    if (flags.format !== undefined) {
      this.ctx.out(renderEach(flags.format, [{ Client: clientInfo, Server: server ?? null }]));
    } else {
      const out = [
        'Client:',
        ` Version:           ${VERSION}`,
        ` API version:       ${negotiated}${negotiated !== MAX_API_VERSION ? ` (downgraded from ${MAX_API_VERSION})` : ''}`,
        ` Node version:      ${process.versions.node}`,
        ` OS/Arch:           ${clientInfo.Os}/${clientInfo.Arch}`,
        ' Context:           default',
      ];
      if (server) {
        out.push('', `Server:${server.Platform?.Name ? ` ${server.Platform.Name}` : ''}`);
        for (const c of server.Components ?? []) {
          out.push(` ${c.Name}:`, `  Version:          ${c.Version}`);
          const d = c.Details ?? {};
          if (c.Name === 'Engine') {
            out.push(`  API version:      ${d.ApiVersion ?? server.ApiVersion} (minimum version ${d.MinAPIVersion ?? server.MinAPIVersion})`);
            if (d.GoVersion) out.push(`  Go version:       ${d.GoVersion}`);
            out.push(`  Git commit:       ${d.GitCommit ?? server.GitCommit}`);
            if (d.BuildTime) out.push(`  Built:            ${d.BuildTime}`);
            out.push(`  OS/Arch:          ${d.Os ?? server.Os}/${d.Arch ?? server.Arch}`);
            out.push(`  Experimental:     ${d.Experimental ?? server.Experimental ?? false}`);
          } else {
            for (const [k, v] of Object.entries(d)) out.push(`  ${`${k}:`.padEnd(17)} ${v}`);
          }
        }
        if (!server.Components?.length) {
          out.push(' Engine:', `  Version:          ${server.Version}`, `  API version:      ${server.ApiVersion} (minimum version ${server.MinAPIVersion})`,
            `  Git commit:       ${server.GitCommit}`, `  OS/Arch:          ${server.Os}/${server.Arch}`);
        }
      }
      this.ctx.out(`${out.join('\n')}\n`);
    }
    if (serverErr) {
      this.warn(describeError(serverErr));
      return 1;
    }
    return 0;
  }
}
