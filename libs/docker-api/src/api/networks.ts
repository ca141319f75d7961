import type { DockerClient, Filters } from '../client.ts';
import { encodeFilters, seg } from '../client.ts';
import type { EndpointSettings } from '../types/container.ts';
import type { Network, NetworkCreateRequest, NetworkCreateResponse, NetworkPruneResponse } from '../types/network.ts';

/** `/networks/…` endpoints. */
export class NetworksApi {
  private readonly c: DockerClient;
  constructor(client: DockerClient) {
    this.c = client;
  }

  list(filters?: Filters): Promise<Network[]> {
    return this.c.json('GET', '/networks', { query: { filters: filters ? encodeFilters(filters) : undefined } });
  }

  inspect(id: string, opts: { verbose?: boolean; scope?: string } = {}): Promise<Network> {
    return this.c.json('GET', `/networks/${seg(id)}`, { query: { verbose: opts.verbose || undefined, scope: opts.scope || undefined } });
  }

  create(body: NetworkCreateRequest): Promise<NetworkCreateResponse> {
    return this.c.json('POST', '/networks/create', { json: body });
  }

  remove(id: string): Promise<void> {
    return this.c.call('DELETE', `/networks/${seg(id)}`);
  }

  connect(id: string, container: string, endpoint?: EndpointSettings): Promise<void> {
    return this.c.call('POST', `/networks/${seg(id)}/connect`, { json: { Container: container, EndpointConfig: endpoint ?? {} } });
  }

  disconnect(id: string, container: string, force = false): Promise<void> {
    return this.c.call('POST', `/networks/${seg(id)}/disconnect`, { json: { Container: container, Force: force } });
  }

  prune(filters?: Filters): Promise<NetworkPruneResponse> {
    return this.c.json('POST', '/networks/prune', { query: { filters: filters ? encodeFilters(filters) : undefined } });
  }
}
