import { InvalidArgumentError } from '@berth/errdefs';

/** Where berthd listens unless told otherwise. */
export const DEFAULT_HOST = 'unix:///run/berth/berthd.sock';
/** Docker's default TCP ports: 2375 plain, 2376 with TLS. */
const DEFAULT_TCP_PORT = 2375;
const DEFAULT_TLS_PORT = 2376;

/** A parsed daemon address: a unix socket, or TCP (with or without TLS). */
export type HostAddress =
  | { kind: 'unix'; path: string; url: string }
  | { kind: 'tcp'; hostname: string; port: number; tls: boolean; url: string };

/**
 * Parses a daemon address the way Docker does: `unix:///path`, `tcp://host:port`, `http://…`, `https://…`,
 * a bare `host:port` (TCP), or a bare absolute path (unix). `tls` picks the default port (2376 vs 2375) and
 * turns `tcp://` into TLS.
 */
export function parseHost(input: string, tls = false): HostAddress {
  const raw = input.trim();
  if (raw === '') throw new InvalidArgumentError('parse daemon host: empty address');
  if (raw.startsWith('/')) return { kind: 'unix', path: raw, url: `unix://${raw}` };
  const m = /^([a-z0-9+.-]+):\/\/(.*)$/i.exec(raw);
  const scheme = m ? m[1]!.toLowerCase() : 'tcp';
  const rest = m ? m[2]! : raw;
  switch (scheme) {
    case 'unix': {
      const path = rest === '' ? DEFAULT_HOST.slice('unix://'.length) : rest;
      if (!path.startsWith('/')) throw new InvalidArgumentError(`parse daemon host ${raw}: unix socket path must be absolute`);
      return { kind: 'unix', path, url: `unix://${path}` };
    }
    case 'tcp':
    case 'http':
    case 'https': {
      const useTls = scheme === 'https' || (scheme === 'tcp' && tls);
      const hostPort = rest.replace(/\/+$/, '');
      if (hostPort.includes('/')) throw new InvalidArgumentError(`parse daemon host ${raw}: paths are not supported`);
      let hostname = hostPort;
      let port: number | undefined;
      const bracket = /^\[([^\]]+)\](?::(\d*))?$/.exec(hostPort);
      if (bracket) {
        hostname = bracket[1]!;
        if (bracket[2]) port = Number(bracket[2]);
      } else {
        const i = hostPort.lastIndexOf(':');
        if (i >= 0 && hostPort.indexOf(':') === i) {
          hostname = hostPort.slice(0, i);
          const p = hostPort.slice(i + 1);
          if (p !== '') {
            if (!/^\d+$/.test(p)) throw new InvalidArgumentError(`parse daemon host ${raw}: invalid port ${JSON.stringify(p)}`);
            port = Number(p);
          }
        }
      }
      if (hostname === '') hostname = '127.0.0.1';
      port ??= useTls ? DEFAULT_TLS_PORT : DEFAULT_TCP_PORT;
      if (port < 1 || port > 65535) throw new InvalidArgumentError(`parse daemon host ${raw}: port out of range`);
      const shown = hostname.includes(':') ? `[${hostname}]` : hostname;
      return { kind: 'tcp', hostname, port, tls: useTls, url: `tcp://${shown}:${port}` };
    }
    default:
      throw new InvalidArgumentError(`parse daemon host ${raw}: unsupported protocol ${JSON.stringify(scheme)}`);
  }
}

/**
 * The daemon address berth uses: the `-H/--host` flag, then `BERTH_HOST`, then `DOCKER_HOST`, then berthd's
 * default socket.
 */
export function selectHost(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.BERTH_HOST || env.DOCKER_HOST || DEFAULT_HOST;
}
