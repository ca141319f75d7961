// Published ports: Docker's `PortBindings`/`PublishAllPorts`/`ExposedPorts` turned into requests the manager
// can bind, and the result back into Docker's `Ports` map.
import { InvalidArgumentError } from '@berth/errdefs';
import { isIp4 } from './ipv4.ts';
import type { Proto } from './port-proxy.ts';
import type { PortBinding, PortMapping } from './types.ts';

export interface PortRequest {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  /** 0 with `hostPortEnd` 0: any ephemeral port. */
  hostPortStart: number;
  hostPortEnd: number;
}

/** `80`, `80/tcp`, `53/udp` → [port, proto]. */
export function parsePortKey(key: string): [number, Proto] {
  const [portText, protoText = 'tcp'] = key.split('/');
  const port = Number(portText);
  const proto = protoText.toLowerCase();
  if (!/^\d+$/.test(portText ?? '') || port < 1 || port > 65535) throw new InvalidArgumentError(`invalid port specification: ${JSON.stringify(key)}`);
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new InvalidArgumentError(`invalid proto: ${protoText} in ${JSON.stringify(key)}`);
  return [port, proto];
}

function parseHostPort(text: string | undefined, key: string): [number, number] {
  if (!text) return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] ? Number(m[2]) : lo;
  if (!m || lo < 0 || hi > 65535 || hi < lo) throw new InvalidArgumentError(`invalid hostPort: ${text} for ${key}`);
  return [lo, hi];
}

/** The normalized exposed ports (`80/tcp`) and the bindings to make. */
export function portRequests(
  bindings: Record<string, PortBinding[] | null> | undefined,
  publishAll: boolean,
  exposed: string[],
  defaultHostIp: string,
): { exposed: string[]; requests: PortRequest[] } {
  const keys = new Set<string>();
  for (const k of [...exposed, ...Object.keys(bindings ?? {})]) {
    const [port, proto] = parsePortKey(k);
    keys.add(`${port}/${proto}`);
  }
  const requests: PortRequest[] = [];
  for (const key of keys) {
    const [containerPort, proto] = parsePortKey(key);
    const list = bindings?.[key] ?? (key.endsWith('/tcp') ? bindings?.[String(containerPort)] : undefined);
    const explicit = list && list.length > 0 ? list : publishAll ? [{}] : [];
    for (const b of explicit) {
      const hostIp = b.hostIp && b.hostIp !== '' ? b.hostIp.replace(/^\[|\]$/g, '') : defaultHostIp;
      if (!isIp4(hostIp)) throw new InvalidArgumentError(`invalid host IP ${JSON.stringify(b.hostIp)} for ${key}: only IPv4 addresses can be published`);
      const [hostPortStart, hostPortEnd] = parseHostPort(b.hostPort, key);
      requests.push({ proto, containerPort, hostIp, hostPortStart, hostPortEnd });
    }
  }
  return { exposed: [...keys], requests };
}

/** Docker's `NetworkSettings.Ports`: every exposed port, with its bindings or `null`. */
export function dockerPorts(exposed: string[], mappings: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of exposed) out[key] = null;
  for (const m of mappings) {
    const key = `${m.containerPort}/${m.proto}`;
    (out[key] ??= []).push({ HostIp: m.hostIp, HostPort: String(m.hostPort) });
  }
  return out;
}
