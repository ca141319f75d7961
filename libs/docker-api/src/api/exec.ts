import type { Duplex } from 'node:stream';
import type { DockerClient } from '../client.ts';
import { seg } from '../client.ts';
import type { ExecCreateRequest, ExecInspect, ExecStartRequest } from '../types/exec.ts';
import type { IdResponse } from '../types/image.ts';

/** `/containers/{id}/exec` and `/exec/…` endpoints. */
export class ExecApi {
  private readonly c: DockerClient;
  constructor(client: DockerClient) {
    this.c = client;
  }

  create(container: string, body: ExecCreateRequest): Promise<IdResponse> {
    return this.c.json('POST', `/containers/${seg(container)}/exec`, { json: body });
  }

  /** Starts a detached exec (`Detach: true`): returns once it is running. */
  startDetached(id: string, body: ExecStartRequest = {}): Promise<void> {
    return this.c.call('POST', `/exec/${seg(id)}/start`, { json: { ...body, Detach: true } });
  }

  /** Starts an attached exec: a hijacked socket (stdin out, output back — multiplexed unless `Tty`). */
  start(id: string, body: ExecStartRequest = {}): Promise<{ socket: Duplex; headers: Record<string, string> }> {
    return this.c.hijack('POST', `/exec/${seg(id)}/start`, { json: { ...body, Detach: false } });
  }

  resize(id: string, height: number, width: number): Promise<void> {
    return this.c.call('POST', `/exec/${seg(id)}/resize`, { query: { h: height, w: width } });
  }

  inspect(id: string): Promise<ExecInspect> {
    return this.c.json('GET', `/exec/${seg(id)}/json`);
  }
}
