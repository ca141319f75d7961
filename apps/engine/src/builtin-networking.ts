/**
 * The engine's own networking, used when no networks extension is installed: the `none` mode (a fresh empty
 * namespace), `host` (the host's stack) and `container:<id>` (another container's namespace). Other modes
 * (`default`, `bridge`, user networks) fall back to `none` with a warning, so that `docker run` works before
 * the bridge driver exists.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { EndpointSettings, NetworkSettings } from '@berth/docker-api';
import { FailedPreconditionError, InvalidArgumentError } from '@berth/errdefs';
import { writeAtomic } from './containers/store.ts';
import type { ContainerView, ExtensionHost, NetworkAttachment, Networking } from './extensions.ts';

const DEFAULT_HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

const networkId = (name: string) => createHash('sha256').update(`berth-network-${name}`).digest('hex');

export function modeOf(networkMode: string | undefined): string {
  return !networkMode || networkMode === 'default' ? 'bridge' : networkMode;
}

export class BuiltinNetworking implements Networking {
  private readonly host: ExtensionHost;
  private readonly log: FastifyBaseLogger;
  private warned = false;

  constructor(host: ExtensionHost) {
    this.host = host;
    this.log = host.log;
  }

  async validate(req: { hostConfig: { NetworkMode?: string }; config: { Hostname?: string } }): Promise<void> {
    const mode = modeOf(req.hostConfig.NetworkMode);
    if (mode.startsWith('container:')) {
      const ref = mode.slice('container:'.length);
      if (!ref) throw new InvalidArgumentError('invalid network mode: container: needs a container name or id');
      const other = this.host.container(ref);
      req.hostConfig.NetworkMode = `container:${other.id}`;
      if (req.config.Hostname) throw new InvalidArgumentError('conflicting options: hostname and the network mode');
    }
    if (mode === 'host' && !req.config.Hostname) req.config.Hostname = osHostname();
  }

  async attach(c: ContainerView): Promise<NetworkAttachment> {
    const mode = modeOf(c.hostConfig.NetworkMode);
    const files = {
      hostsPath: path.join(c.dir, 'hosts'),
      resolvConfPath: path.join(c.dir, 'resolv.conf'),
      hostnamePath: path.join(c.dir, 'hostname'),
    };
    const hostname = c.config.Hostname || c.id.slice(0, 12);
    const domainname = c.config.Domainname ?? '';
    if (mode.startsWith('container:')) {
      const other = this.host.container(mode.slice('container:'.length));
      if (!other.running || other.pid <= 0) {
        throw new FailedPreconditionError(`cannot join network namespace of a non running container: container ${other.id} is not running`);
      }
      return {
        netns: { path: `/proc/${other.pid}/ns/net` }, hostname: other.config.Hostname || other.id.slice(0, 12),
        domainname: other.config.Domainname ?? '',
        hostsPath: path.join(other.dir, 'hosts'), resolvConfPath: path.join(other.dir, 'resolv.conf'), hostnamePath: path.join(other.dir, 'hostname'),
      };
    }
    const extraHosts = (c.hostConfig.ExtraHosts ?? []).map(parseExtraHost);
    if (mode === 'host') {
      const hosts = readOr('/etc/hosts', DEFAULT_HOSTS.join('\n') + '\n');
      writeAtomic(files.hostsPath, hosts + extraHosts.map((h) => `${h.ip}\t${h.name}\n`).join(''), 0o644);
      writeAtomic(files.resolvConfPath, resolvConf(c, readOr('/etc/resolv.conf', ''), false), 0o644);
      writeAtomic(files.hostnamePath, `${hostname}\n`, 0o644);
      return { netns: 'host', hostname, domainname, ...files };
    }
    if (mode !== 'none' && !this.warned) {
      this.warned = true;
      this.log.warn({ networkMode: mode }, 'no networks extension: containers get an isolated stack without interfaces (as --network none)');
    }
    writeAtomic(files.hostsPath, [...DEFAULT_HOSTS, ...extraHosts.map((h) => `${h.ip}\t${h.name}`)].join('\n') + '\n', 0o644);
    writeAtomic(files.resolvConfPath, resolvConf(c, readOr('/etc/resolv.conf', ''), true), 0o644);
    writeAtomic(files.hostnamePath, `${hostname}\n`, 0o644);
    return { netns: 'new', hostname, domainname, ...files };
  }

  async detach(): Promise<void> {}

  async remove(): Promise<void> {}

  settings(c: ContainerView): NetworkSettings {
    const mode = modeOf(c.hostConfig.NetworkMode);
    const networks: Record<string, EndpointSettings> = {};
    if (!mode.startsWith('container:')) {
      const name = mode === 'host' ? 'host' : 'none';
      networks[name] = {
        IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, NetworkID: networkId(name),
        EndpointID: c.running ? networkId(`${name}-${c.id}`) : '', Gateway: '', IPAddress: '', IPPrefixLen: 0,
        IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
      };
    }
    return {
      Bridge: '', SandboxID: c.running ? networkId(`sandbox-${c.id}`) : '', HairpinMode: false, LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0, Ports: {}, SandboxKey: c.running && mode !== 'host' ? `/proc/${c.pid}/ns/net` : '',
      SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '', GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0, IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '', Networks: networks,
    };
  }
}

function readOr(file: string, dflt: string): string {
  try {
    return existsSync(file) ? readFileSync(file, 'utf8') : dflt;
  } catch {
    return dflt;
  }
}

export function parseExtraHost(s: string): { name: string; ip: string } {
  const i = s.indexOf(':') > 0 ? s.indexOf(':') : s.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`invalid IP address in add-host: "${s}"`);
  return { name: s.slice(0, i), ip: s.slice(i + 1) };
}

/** The host's resolv.conf for a container: loopback resolvers dropped (unreachable from its namespace), `--dns*` applied. */
export function resolvConf(c: ContainerView, host: string, dropLoopback: boolean): string {
  const lines = host.split('\n');
  let nameservers = lines.filter((l) => /^\s*nameserver\s/.test(l)).map((l) => l.trim().split(/\s+/)[1]!);
  let search = lines.filter((l) => /^\s*(search|domain)\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  let options = lines.filter((l) => /^\s*options\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  if (dropLoopback) nameservers = nameservers.filter((n) => !/^127\.|^::1$/.test(n));
  if (nameservers.length === 0 && dropLoopback) nameservers = ['8.8.8.8', '8.8.4.4'];
  if (c.hostConfig.Dns && c.hostConfig.Dns.length > 0) nameservers = c.hostConfig.Dns;
  if (c.hostConfig.DnsSearch && c.hostConfig.DnsSearch.length > 0) search = c.hostConfig.DnsSearch.filter((s) => s !== '.');
  if (c.hostConfig.DnsOptions && c.hostConfig.DnsOptions.length > 0) options = c.hostConfig.DnsOptions;
  return [
    ...(search.length > 0 ? [`search ${search.join(' ')}`] : []),
    ...nameservers.map((n) => `nameserver ${n}`),
    ...(options.length > 0 ? [`options ${options.join(' ')}`] : []),
  ].join('\n') + '\n';
}
