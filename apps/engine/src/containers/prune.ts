/** `POST /containers/prune`: removes stopped containers matching `until` and `label` filters. */
import type { ContainerPruneResponse } from '@berth/docker-api';
import { InvalidArgumentError } from '@berth/errdefs';
import { matchLabels, type Filters } from '../api/query.ts';
import type { Engine } from '../engine.ts';
import { parseEventTime } from '../system/events.ts';
import { timeMs } from './record.ts';
import { sizesOf } from './views.ts';

export async function pruneContainers(engine: Engine, f: Filters): Promise<ContainerPruneResponse> {
  for (const k of f.keys()) if (!['until', 'label', 'label!'].includes(k)) throw new InvalidArgumentError(`invalid filter '${k}'`);
  const until = f.get('until')?.[0];
  const untilNs = until ? parseEventTime(until) : undefined;
  if (until && untilNs === undefined) throw new InvalidArgumentError(`invalid filter 'until=${until}'`);
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const c of engine.containers.list()) {
    if (c.running || c.removing) continue;
    if (untilNs !== undefined && BigInt(timeMs(c.rec.Created)) * 1_000_000n > untilNs) continue;
    if (!matchLabels(f.get('label'), c.rec.Config.Labels)) continue;
    if (f.get('label!') && !matchLabels(f.get('label!'), c.rec.Config.Labels, true)) continue;
    const size = (await sizesOf(engine, c)).rw;
    try {
      await engine.containers.remove(c.id, {});
      deleted.push(c.id);
      reclaimed += size;
    } catch (err) {
      engine.log.warn({ containerId: c.id, err }, 'prune: could not remove the container');
    }
  }
  engine.events.emit('container', 'prune', '', { reclaimed: String(reclaimed) });
  return { ContainersDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
}
