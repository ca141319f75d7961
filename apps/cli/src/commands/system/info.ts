import type { SystemInfo } from '@berth/docker-api';
import { Command } from '../../framework/command.ts';
import { Flags } from '../../framework/flags.ts';
import { renderEach } from '../../format/formatter.ts';
import { bytesSize } from '../../format/units.ts';
import { VERSION } from '../../context.ts';
import { describeError, isFatal } from '../../lib/describe.ts';

export default class SystemInfoCmd extends Command {
  static override usage = '[OPTIONS]';
  static override examples = ['berth info', 'berth info --format "{{.ServerVersion}}"', 'berth info --format json'];
  static override flags = {
    format: Flags.string({ char: 'f', description: 'Format output using a custom template:\n\'json\':             Print in JSON format\n\'TEMPLATE\':         Print output using the given Go template.' }),
  };

  async run(): Promise<number> {
    const { flags } = await this.parse(SystemInfoCmd);
    const client = await this.ctx.client();
    const clientInfo = { Debug: this.ctx.global.debug, Version: VERSION, Context: 'default', Plugins: [], Warnings: null };
    let info: SystemInfo | undefined;
    let serverError: string | undefined;
    try {
      info = await client.system.info();
    } catch (err) {
      if (flags.format === undefined && !isFatal(err)) throw err;
      serverError = describeError(err);
    }
    if (flags.format !== undefined) {
      const data = { ...(info ?? {}), ClientInfo: clientInfo, ...(serverError ? { ServerErrors: [serverError] } : {}) };
      this.ctx.out(renderEach(flags.format, [data]));
      return serverError ? 1 : 0;
    }
    const lines: string[] = ['Client:', ` Version:    ${VERSION}`, ' Context:    default', ` Debug Mode: ${this.ctx.global.debug}`, '', 'Server:'];
    const i = info!;
    const ln = (label: string, v: unknown) => lines.push(`${label} ${v === undefined || v === null ? '' : String(v)}`);
    const nonEmpty = (label: string, v: unknown) => {
      if (v !== undefined && v !== null && v !== '') ln(label, v);
    };
    ln(' Containers:', i.Containers);
    ln('  Running:', i.ContainersRunning);
    ln('  Paused:', i.ContainersPaused);
    ln('  Stopped:', i.ContainersStopped);
    ln(' Images:', i.Images);
    nonEmpty(' Server Version:', i.ServerVersion);
    nonEmpty(' Storage Driver:', i.Driver);
    for (const [k, v] of i.DriverStatus ?? []) lines.push(`  ${k}: ${v}`);
    nonEmpty(' Logging Driver:', i.LoggingDriver);
    nonEmpty(' Cgroup Driver:', i.CgroupDriver);
    nonEmpty(' Cgroup Version:', i.CgroupVersion);
    lines.push(' Plugins:');
    ln('  Volume:', (i.Plugins?.Volume ?? []).join(' '));
    ln('  Network:', (i.Plugins?.Network ?? []).join(' '));
    if (i.Plugins?.Authorization?.length) ln('  Authorization:', i.Plugins.Authorization.join(' '));
    ln('  Log:', (i.Plugins?.Log ?? []).join(' '));
    if (i.CDISpecDirs?.length) {
      lines.push(' CDI spec directories:');
      for (const d of i.CDISpecDirs) lines.push(`  ${d}`);
    }
    ln(' Swarm:', i.Swarm?.LocalNodeState ?? 'inactive');
    const runtimes = Object.keys(i.Runtimes ?? {});
    if (runtimes.length) {
      ln(' Runtimes:', runtimes.join(' '));
      ln(' Default Runtime:', i.DefaultRuntime);
    }
    if (i.OSType === 'linux') {
      ln(' Init Binary:', i.InitBinary);
      ln(' containerd version:', i.ContainerdCommit?.ID);
      ln(' runc version:', i.RuncCommit?.ID);
      ln(' init version:', i.InitCommit?.ID);
      const secopts = (i.SecurityOptions ?? []).map(decodeSecurityOption);
      if (secopts.length) {
        lines.push(' Security Options:');
        for (const so of secopts) {
          lines.push(`  ${so.name}`);
          if (so.profile !== undefined) ln('   Profile:', so.profile);
        }
      }
    }
    nonEmpty(' Kernel Version:', i.KernelVersion);
    nonEmpty(' Operating System:', i.OperatingSystem);
    nonEmpty(' OSType:', i.OSType);
    nonEmpty(' Architecture:', i.Architecture);
    ln(' CPUs:', i.NCPU);
    ln(' Total Memory:', bytesSize(i.MemTotal));
    nonEmpty(' Name:', i.Name);
    nonEmpty(' ID:', i.ID);
    ln(' Docker Root Dir:', i.DockerRootDir);
    ln(' Debug Mode:', i.Debug);
    if (i.Debug || this.ctx.global.debug) {
      ln('  File Descriptors:', i.NFd);
      ln('  Goroutines:', i.NGoroutines);
      ln('  System Time:', i.SystemTime);
      ln('  EventsListeners:', i.NEventsListener);
    }
    nonEmpty(' HTTP Proxy:', i.HttpProxy);
    nonEmpty(' HTTPS Proxy:', i.HttpsProxy);
    nonEmpty(' No Proxy:', i.NoProxy);
    if (i.Labels?.length) {
      lines.push(' Labels:');
      for (const l of i.Labels) lines.push(`  ${l}`);
    }
    ln(' Experimental:', i.ExperimentalBuild);
    const rc = i.RegistryConfig;
    if (rc && ((rc.InsecureRegistryCIDRs?.length ?? 0) > 0 || Object.keys(rc.IndexConfigs ?? {}).length > 0)) {
      lines.push(' Insecure Registries:');
      for (const ic of Object.values(rc.IndexConfigs ?? {})) if (!ic.Secure) lines.push(`  ${ic.Name}`);
      for (const cidr of rc.InsecureRegistryCIDRs ?? []) lines.push(`  ${cidr}`);
    }
    if (rc?.Mirrors?.length) {
      lines.push(' Registry Mirrors:');
      for (const m of rc.Mirrors) lines.push(`  ${m}`);
    }
    ln(' Live Restore Enabled:', i.LiveRestoreEnabled);
    if (i.ProductLicense) ln(' Product License:', i.ProductLicense);
    if (i.DefaultAddressPools?.length) {
      lines.push(' Default Address Pools:');
      for (const p of i.DefaultAddressPools) lines.push(`   Base: ${p.Base}, Size: ${p.Size}`);
    }
    lines.push('');
    this.ctx.out(`${lines.join('\n')}\n`);
    for (const w of i.Warnings ?? []) this.warn(w);
    return 0;
  }
}

function decodeSecurityOption(s: string): { name: string; profile?: string } {
  if (!s.includes('=')) return { name: s };
  const kv = Object.fromEntries(s.split(',').map((p) => p.split('=') as [string, string]));
  return { name: kv.name ?? s, profile: kv.profile };
}
