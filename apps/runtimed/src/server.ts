/** The gRPC server on a unix socket: refuses to steal a live socket, replaces a stale one, mode 0660. */
import { createServer, type GrpcServer } from '@berth/containerd-api';
import { UnavailableError } from '@berth/errdefs';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export function createGrpcServer(): GrpcServer {
  return createServer();
}

function socketIsLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function listenUnix(server: GrpcServer, socketPath: string, gid = -1): Promise<void> {
  mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o711 });
  if (existsSync(socketPath)) {
    if (await socketIsLive(socketPath)) throw new UnavailableError(`listen on ${socketPath}: another daemon is serving this socket`);
    rmSync(socketPath, { force: true });
  }
  await server.listen(socketPath);
  chmodSync(socketPath, 0o660);
  if (gid >= 0) chownSync(socketPath, 0, gid);
}

/** Stops accepting calls, lets running ones finish for `graceMs`, then cuts the rest (event streams never end by themselves). */
export async function shutdownServer(server: GrpcServer, graceMs = 2_000): Promise<void> {
  await server.shutdown(graceMs);
}
