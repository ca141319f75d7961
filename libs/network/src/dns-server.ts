// The embedded DNS server for user-defined networks. berthd listens (UDP and TCP, port 53) on each such
// network's gateway address; inside every container a DNAT rule sends 127.0.0.11:53 there (see sandbox.ts),
// so containers see Docker's resolver address. Names of containers on the asker's networks are answered here;
// other queries are forwarded from the host's namespace to the asker's upstream resolvers.
import dgram from 'node:dgram';
import net from 'node:net';
import {
  buildResponse, errorResponse, parseQuestion, reverseName, RCODE_FORMERR, RCODE_NOERROR, RCODE_NXDOMAIN, RCODE_REFUSED,
  RCODE_SERVFAIL, TYPE_A, TYPE_AAAA, TYPE_PTR, CLASS_IN, type Answer,
} from './dns-message.ts';
import type { Logger } from './logger.ts';

const TTL = 600;
const FORWARD_TIMEOUT_MS = 3000;

/** What the server asks its owner about a query from `source` received on network `networkId`. */
export interface DnsBackend {
  /** The upstream resolvers for this asker; `undefined`: the asker is unknown here (refused). */
  upstreams(networkId: string, source: string): string[] | undefined;
  /** IPv4 addresses for `name` as seen by this asker, or undefined if the name is not a container's. */
  lookup(networkId: string, source: string, name: string): string[] | undefined;
  /** The name for `ip` among the asker's networks (`name.network`), or undefined. */
  reverse(networkId: string, source: string, ip: string): string | undefined;
}

interface Listener {
  udp: dgram.Socket;
  tcp: net.Server;
  port: number;
}

/** A UDP socket and a TCP listener on the same address and port (0: a port free for both). */
async function bindPair(address: string, port: number): Promise<Listener> {
  const udp = dgram.createSocket({ type: 'udp4' });
  const tcp = net.createServer({ allowHalfOpen: true });
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, address, () => resolve());
    });
    const bound = udp.address().port;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ port: bound, host: address, exclusive: true }, () => resolve());
    });
    return { udp, tcp, port: bound };
  } catch (err) {
    try {
      udp.close();
    } catch { /* never bound */ }
    tcp.close(() => {});
    throw err;
  }
}

export class EmbeddedDns {
  private readonly listeners = new Map<string, Listener>();

  private readonly backend: DnsBackend;
  private readonly log: Logger;

  constructor(backend: DnsBackend, log: Logger) {
    this.backend = backend;
    this.log = log;
  }

  listening(networkId: string): boolean {
    return this.listeners.has(networkId);
  }

  /**
   * Starts answering on `address` for network `networkId`, UDP and TCP on one port: `port` if given and free,
   * else 53 if free, else an ephemeral port. Returns the port (idempotent while listening).
   */
  async listen(networkId: string, address: string, port?: number): Promise<number> {
    const current = this.listeners.get(networkId);
    if (current) return current.port;
    const candidates = [...(port ? [port] : []), ...(port === 53 ? [] : [53]), 0, 0, 0];
    let lastError: unknown;
    for (const p of candidates) {
      try {
        const l = await bindPair(address, p);
        this.attach(networkId, l);
        return l.port;
      } catch (err) {
        lastError = err;
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' && (err as NodeJS.ErrnoException).code !== 'EACCES') break;
      }
    }
    throw lastError;
  }

  private attach(networkId: string, l: Listener): void {
    const { udp, tcp } = l;
    tcp.on('connection', (sock) => this.serveTcp(networkId, sock));
    udp.on('error', (err) => this.log.warn({ err, networkId }, 'embedded DNS UDP socket error'));
    tcp.on('error', (err) => this.log.warn({ err, networkId }, 'embedded DNS TCP listener error'));
    udp.on('message', (msg, rinfo) => {
      this.answer(networkId, rinfo.address, msg, 'udp').then((reply) => {
        if (reply) udp.send(reply, rinfo.port, rinfo.address);
      }, (err: unknown) => this.log.warn({ err, networkId }, 'embedded DNS query failed'));
    });
    this.listeners.set(networkId, l);
  }

  async unlisten(networkId: string): Promise<void> {
    const l = this.listeners.get(networkId);
    if (!l) return;
    this.listeners.delete(networkId);
    l.udp.close();
    await new Promise<void>((resolve) => l.tcp.close(() => resolve()));
  }

  async close(): Promise<void> {
    await Promise.all([...this.listeners.keys()].map((id) => this.unlisten(id)));
  }

  private serveTcp(networkId: string, sock: net.Socket): void {
    let buf = Buffer.alloc(0);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('end', () => sock.end());
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        this.answer(networkId, sock.remoteAddress?.replace(/^::ffff:/, '') ?? '', msg, 'tcp').then((reply) => {
          if (reply && !sock.destroyed) sock.write(withLength(reply));
        }, () => sock.destroy());
      }
    });
  }

  /** The reply to one query (undefined: stay silent). */
  async answer(networkId: string, source: string, msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const upstreams = this.backend.upstreams(networkId, source);
    if (upstreams === undefined) return msg.length >= 12 ? errorResponse(msg, RCODE_REFUSED) : undefined;
    const q = parseQuestion(msg);
    if (!q) return msg.length >= 12 ? errorResponse(msg, RCODE_FORMERR) : undefined;
    if (q.opcode === 0 && q.class === CLASS_IN) {
      const name = q.name.replace(/\.$/, '');
      if (q.type === TYPE_PTR) {
        const ip = reverseName(name);
        const owner = ip ? this.backend.reverse(networkId, source, ip) : undefined;
        if (owner) return buildResponse(msg, q, RCODE_NOERROR, [{ type: TYPE_PTR, ttl: TTL, data: owner }]);
      } else {
        const ips = this.backend.lookup(networkId, source, name);
        if (ips) {
          const answers: Answer[] = q.type === TYPE_A ? ips.map((ip) => ({ type: TYPE_A, ttl: TTL, data: ip })) : [];
          // A container name has no AAAA (IPv4 only) and no other records: answer "no data", do not forward.
          return buildResponse(msg, q, RCODE_NOERROR, q.type === TYPE_A || q.type === TYPE_AAAA ? answers : []);
        }
      }
    }
    if (upstreams.length === 0) return errorResponse(msg, q.opcode === 0 ? RCODE_NXDOMAIN : RCODE_REFUSED);
    for (const upstream of upstreams) {
      try {
        return transport === 'udp' ? await forwardUdp(msg, upstream) : await forwardTcp(msg, upstream);
      } catch (err) {
        this.log.debug({ err, upstream, name: q.name }, 'upstream resolver did not answer');
      }
    }
    return errorResponse(msg, RCODE_SERVFAIL);
  }
}

function withLength(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length, 0);
  return Buffer.concat([len, msg]);
}

function splitHostPort(upstream: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(upstream);
  return m && !m[1]!.includes(':') ? [m[1]!, Number(m[2])] : [upstream, 53];
}

function forwardUdp(msg: Buffer, upstream: string): Promise<Buffer> {
  const [host, port] = splitHostPort(upstream);
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no answer from ${upstream}`));
    }, FORWARD_TIMEOUT_MS);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.on('message', (reply) => {
      if (reply.length < 2 || reply.readUInt16BE(0) !== msg.readUInt16BE(0)) return;
      clearTimeout(timer);
      sock.close();
      resolve(reply);
    });
    sock.send(msg, port, host);
  });
}

function forwardTcp(msg: Buffer, upstream: string): Promise<Buffer> {
  const [host, port] = splitHostPort(upstream);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    sock.setTimeout(FORWARD_TIMEOUT_MS, () => sock.destroy(new Error(`no answer from ${upstream}`)));
    sock.on('error', reject);
    sock.on('connect', () => sock.write(withLength(msg)));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        sock.destroy();
      }
    });
    sock.on('close', () => reject(new Error(`connection to ${upstream} closed`)));
  });
}
