import type { DockerClient, Filters } from '../client.ts';
import { encodeFilters, seg } from '../client.ts';
import type { Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse } from '../types/volume.ts';

/** `/volumes/…` endpoints. */
export class VolumesApi {
  private readonly c: DockerClient;
  constructor(client: DockerClient) {
    this.c = client;
  }

  list(filters?: Filters): Promise<VolumeListResponse> {
    return this.c.json('GET', '/volumes', { query: { filters: filters ? encodeFilters(filters) : undefined } });
  }

  inspect(name: string): Promise<Volume> {
    return this.c.json('GET', `/volumes/${seg(name)}`);
  }

  create(body: VolumeCreateRequest): Promise<Volume> {
    return this.c.json('POST', '/volumes/create', { json: body });
  }

  remove(name: string, force = false): Promise<void> {
    return this.c.call('DELETE', `/volumes/${seg(name)}`, { query: { force: force || undefined } });
  }

  prune(filters?: Filters): Promise<VolumePruneResponse> {
    return this.c.json('POST', '/volumes/prune', { query: { filters: filters ? encodeFilters(filters) : undefined } });
  }
}
