// /etc/hosts for containers, in Docker's layout: the loopback and IPv6 boilerplate, the `--add-host` entries,
// then the container's own addresses with its hostname (and legacy `--link` entries on the default bridge).

export interface HostsEntry {
  ip: string;
  names: string[];
}

const BOILERPLATE = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

export function formatHosts(extra: HostsEntry[], self: HostsEntry[]): string {
  const lines = [...BOILERPLATE];
  for (const e of [...extra, ...self]) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** The names a container's own address carries: `hostname.domainname hostname` or `hostname`. */
export function selfNames(hostname: string, domainname?: string): string[] {
  return domainname ? [`${hostname}.${domainname}`, hostname] : [hostname];
}
