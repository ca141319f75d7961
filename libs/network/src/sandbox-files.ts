// A sandbox's /etc/hosts, /etc/resolv.conf and /etc/hostname, written where the engine bind-mounts them from.
import { writeFileInPlace } from './atomic-file.ts';
import { formatHosts, selfNames, type HostsEntry } from './etc-hosts.ts';
import { containerResolvConf, formatResolvConf, type ContainerDnsSettings, type ResolvConf } from './resolv-conf.ts';
import type { SandboxRecord } from './types.ts';

export interface FilesContext {
  hostResolv: ResolvConf;
  /** The host's /etc/hosts (for host networking). */
  hostHosts: string;
  daemonDns: Required<ContainerDnsSettings>;
  /** A linked container's address on the default bridge, hostname and name. */
  linkTarget(containerId: string): { ip: string; hostname: string; name: string } | undefined;
}

export function sandboxFileContents(sb: SandboxRecord, ctx: FilesContext): { hosts: string; resolvConf: string; hostname: string } {
  const extra: HostsEntry[] = sb.extraHosts.map((h) => ({ ip: h.ip, names: [h.name] }));
  for (const l of sb.links) {
    const t = ctx.linkTarget(l.containerId);
    if (t) extra.push({ ip: t.ip, names: [...new Set([l.alias, t.hostname, t.name])] });
  }
  const names = selfNames(sb.hostname, sb.domainname);
  let hosts: string;
  if (sb.mode === 'host') {
    const base = ctx.hostHosts.endsWith('\n') || ctx.hostHosts === '' ? ctx.hostHosts : `${ctx.hostHosts}\n`;
    hosts = base + extra.map((e) => `${e.ip}\t${e.names.join(' ')}\n`).join('');
  } else {
    hosts = formatHosts(extra, sb.endpoints.map((ep) => ({ ip: ep.ip, names })));
  }
  const dns: ContainerDnsSettings = {
    dns: sb.dns.length ? sb.dns : ctx.daemonDns.dns,
    dnsSearch: sb.dnsSearch.length ? sb.dnsSearch : ctx.daemonDns.dnsSearch,
    dnsOptions: sb.dnsOptions.length ? sb.dnsOptions : ctx.daemonDns.dnsOptions,
  };
  const resolv = containerResolvConf(ctx.hostResolv, dns, sb.mode === 'host' ? 'host' : sb.embeddedDns ? 'embedded' : 'plain');
  return { hosts, resolvConf: formatResolvConf(resolv), hostname: `${sb.hostname}\n` };
}

/**
 * Writes the three files in place: a running container's bind mounts keep pointing at the same inodes, and
 * they are rewritten at every start, so neither a rename nor an fsync buys anything here.
 */
export function writeSandboxFiles(sb: SandboxRecord, ctx: FilesContext): void {
  const c = sandboxFileContents(sb, ctx);
  writeFileInPlace(sb.hostsPath, c.hosts);
  writeFileInPlace(sb.resolvConfPath, c.resolvConf);
  writeFileInPlace(sb.hostnamePath, c.hostname);
}
