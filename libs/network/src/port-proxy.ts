// The userland proxy (docker-proxy's role): berthd listens on each published host address and port and relays
// connections to the container. DNAT rules carry the traffic the kernel can rewrite; the proxy serves what it
// cannot (connections to 127.0.0.1, and containers reaching a published port through the host from a bridge).
// Its listening socket also reserves the host port, so nothing else can take it.
import dgram from 'node:dgram';
import net from 'node:net';
import { ConflictError, wrap } from '@berth/errdefs';

export type Proto = 'tcp' | 'udp' | 'sctp';

/** Where connections go now (the container's address may change when it is connected elsewhere). */
export type TargetFn = () => { ip: string; port: number } | undefined;

export interface PortProxy {
  readonly proto: Proto;
  readonly hostIp: string;
  readonly hostPort: number;
  close(): Promise<void>;
}

const UDP_IDLE_MS = 90_000;

/** Listens on hostIp:hostPort (0: an ephemeral port chosen by the kernel) and relays to `target()`. */
export async function startProxy(proto: Proto, hostIp: string, hostPort: number, target: TargetFn): Promise<PortProxy> {
  if (proto === 'sctp') throw new ConflictError(`publish ${hostIp}:${hostPort}/sctp: SCTP is not supported`);
  try {
    return proto === 'tcp' ? await startTcp(hostIp, hostPort, target) : await startUdp(hostIp, hostPort, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConflictError(`Bind for ${hostIp}:${hostPort} failed: port is already allocated`, { cause: err });
    }
    throw wrap(err, `Error starting userland proxy: listen ${proto}4 ${hostIp}:${hostPort}`);
  }
}

async function startTcp(hostIp: string, hostPort: number, target: TargetFn): Promise<PortProxy> {
  const conns = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const t = target();
    if (!t) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: t.ip, port: t.port, allowHalfOpen: true, noDelay: true });
    conns.add(client);
    conns.add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      conns.delete(client);
      conns.delete(upstream);
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', () => (upstream.writableEnded ? done() : undefined));
    upstream.on('close', () => (client.writableEnded ? done() : undefined));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: hostIp, port: hostPort, exclusive: true }, () => resolve());
  });
  server.on('error', () => {});
  const port = (server.address() as net.AddressInfo).port;
  return {
    proto: 'tcp',
    hostIp,
    hostPort: port,
    close: () => new Promise<void>((resolve) => {
      for (const c of conns) c.destroy();
      server.close(() => resolve());
    }),
  };
}

async function startUdp(hostIp: string, hostPort: number, target: TargetFn): Promise<PortProxy> {
  const sock = dgram.createSocket({ type: 'udp4' });
  // One upstream socket per client address, so replies find their way back; dropped after a quiet spell.
  const flows = new Map<string, { up: dgram.Socket; timer: NodeJS.Timeout }>();
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(hostPort, hostIp, () => resolve());
  });
  sock.on('error', () => {});
  sock.on('message', (msg, rinfo) => {
    const t = target();
    if (!t) return;
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const up = dgram.createSocket('udp4');
      up.on('error', () => {});
      up.on('message', (reply) => {
        sock.send(reply, rinfo.port, rinfo.address);
        flows.get(key)?.timer.refresh();
      });
      flow = { up, timer: setTimeout(() => {
        up.close();
        flows.delete(key);
      }, UDP_IDLE_MS) };
      flows.set(key, flow);
    }
    flow.timer.refresh();
    flow.up.send(msg, t.port, t.ip);
  });
  const port = sock.address().port;
  return {
    proto: 'udp',
    hostIp,
    hostPort: port,
    close: async () => {
      for (const f of flows.values()) {
        clearTimeout(f.timer);
        f.up.close();
      }
      flows.clear();
      await new Promise<void>((resolve) => sock.close(() => resolve()));
    },
  };
}
