/**
 * Which endpoints serve a registry domain, as dockerd decides it: `docker.io` is served by the configured
 * mirrors first (pulls only), then `https://registry-1.docker.io`; any other domain by `https://<domain>`,
 * and for an insecure registry (listed by host or CIDR; loopback always is) TLS is not verified and plain
 * `http://<domain>` is tried after https.
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from '@berth/errdefs';

export const DOCKER_HUB_DOMAIN = 'docker.io';
export const DOCKER_HUB_ENDPOINT = 'https://registry-1.docker.io';

export interface Endpoint {
  /** `scheme://host[:port]`, no trailing slash. */
  origin: string;
  /** `host[:port]` of the endpoint (what credentials are looked up by, after the reference's domain). */
  host: string;
  /** A mirror of docker.io (a failure here falls back to the next endpoint whatever it is). */
  mirror: boolean;
  /** Skip TLS verification. */
  insecureTls: boolean;
}

export interface HostsOptions {
  /** Mirrors for docker.io names: `http://127.0.0.1:5000` (a bare `host:port` means https). */
  mirrors?: string[];
  /** Registries reached without TLS verification and over plain HTTP: `host:port` or a CIDR. */
  insecureRegistries?: string[];
}

interface Cidr { bytes: Buffer; prefix: number }

function ipBytes(ip: string): Buffer | undefined {
  const v = isIP(ip);
  if (v === 4) return Buffer.from(ip.split('.').map(Number));
  if (v === 6) {
    const [head, tail] = ip.includes('::') ? ip.split('::') as [string, string] : [ip, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    return Buffer.from(groups.flatMap((g) => {
      const n = parseInt(g || '0', 16);
      return [n >> 8, n & 0xff];
    }));
  }
  return undefined;
}

function parseCidr(s: string): Cidr | undefined {
  const m = /^(.+)\/(\d+)$/.exec(s);
  if (!m) return undefined;
  const bytes = ipBytes(m[1]!);
  if (!bytes) return undefined;
  return { bytes, prefix: Number(m[2]) };
}

function inCidr(ip: Buffer, c: Cidr): boolean {
  if (ip.length !== c.bytes.length) return false;
  for (let bit = 0; bit < c.prefix; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((ip[bit >> 3]! & mask) !== (c.bytes[bit >> 3]! & mask)) return false;
  }
  return true;
}

function hostname(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const i = hostPort.lastIndexOf(':');
  return i >= 0 && hostPort.indexOf(':') === i ? hostPort.slice(0, i) : hostPort;
}

function stripScheme(s: string): string {
  return s.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
}

export class RegistryHosts {
  private readonly mirrors: string[];
  private readonly insecureHosts = new Set<string>();
  private readonly insecureCidrs: Cidr[] = [parseCidr('127.0.0.0/8')!, parseCidr('::1/128')!];
  /** Insecure registries seen answering TLS with plain HTTP: https is not tried again for them. */
  private readonly plainHttp = new Set<string>();

  constructor(opts: HostsOptions = {}) {
    this.mirrors = (opts.mirrors ?? []).map((m) => {
      const url = /^[a-z]+:\/\//i.test(m) ? m : `https://${m}`;
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw new InvalidArgumentError(`invalid registry mirror ${JSON.stringify(m)}`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`invalid registry mirror ${JSON.stringify(m)}: unsupported scheme ${u.protocol}`);
      return `${u.protocol}//${u.host}`;
    });
    for (const r of opts.insecureRegistries ?? []) {
      const c = parseCidr(r);
      if (c) this.insecureCidrs.push(c);
      else this.insecureHosts.add(stripScheme(r).toLowerCase());
    }
  }

  /** Whether a `host[:port]` is an insecure registry (listed, or a loopback/listed-CIDR address). */
  isInsecure(hostPort: string): boolean {
    const h = hostPort.toLowerCase();
    if (this.insecureHosts.has(h)) return true;
    const name = hostname(h);
    if (this.insecureHosts.has(name)) return true;
    const ip = ipBytes(name === 'localhost' ? '127.0.0.1' : name);
    return ip !== undefined && this.insecureCidrs.some((c) => inCidr(ip, c));
  }

  /** Remembers that an insecure registry speaks plain HTTP (its TLS handshake failed at the protocol level). */
  markPlainHttp(host: string): void {
    if (this.isInsecure(host)) this.plainHttp.add(host);
  }

  /** The endpoints to try, in order, for a registry domain. Mirrors only serve pulls. */
  endpoints(domain: string, purpose: 'pull' | 'push'): Endpoint[] {
    const out: Endpoint[] = [];
    if (domain === DOCKER_HUB_DOMAIN) {
      if (purpose === 'pull') {
        for (const m of this.mirrors) {
          const host = stripScheme(m);
          out.push({ origin: m, host, mirror: true, insecureTls: this.isInsecure(host) });
        }
      }
      out.push({ origin: DOCKER_HUB_ENDPOINT, host: stripScheme(DOCKER_HUB_ENDPOINT), mirror: false, insecureTls: false });
      return out;
    }
    const insecure = this.isInsecure(domain);
    if (insecure && this.plainHttp.has(domain)) return [{ origin: `http://${domain}`, host: domain, mirror: false, insecureTls: true }];
    out.push({ origin: `https://${domain}`, host: domain, mirror: false, insecureTls: insecure });
    if (insecure) out.push({ origin: `http://${domain}`, host: domain, mirror: false, insecureTls: true });
    return out;
  }
}
