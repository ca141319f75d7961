/**
 * The engine's event log (`GET /events`): Docker's event messages, kept in memory (the last 1024, as dockerd
 * keeps) for `since`, and fanned out to followers with Docker's filters.
 */
import { EventEmitter } from 'node:events';
import type { EventMessage } from '@berth/docker-api';
import type { Filters } from '../api/query.ts';
import { matchLabels } from '../api/query.ts';

const KEEP = 1024;

export type EventType = 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'plugin' | 'builder';

export class EventBus {
  private readonly log: EventMessage[] = [];
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): EventMessage {
    const now = process.hrtime.bigint();
    const wallNs = BigInt(Date.now()) * 1_000_000n + (now % 1_000_000n);
    const ev: EventMessage = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(wallNs / 1_000_000_000n),
      timeNano: Number(wallNs),
    };
    // Fields older clients still read.
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
    this.log.push(ev);
    if (this.log.length > KEEP) this.log.splice(0, this.log.length - KEEP);
    this.emitter.emit('event', ev);
    return ev;
  }

  /** Past events in [since, until] (nanoseconds) matching the filters. */
  past(sinceNs: bigint | undefined, untilNs: bigint | undefined, filters: Filters): EventMessage[] {
    if (sinceNs === undefined) return [];
    return this.log.filter((e) => {
      const t = BigInt(e.timeNano);
      return t >= sinceNs && (untilNs === undefined || t <= untilNs) && matchEvent(e, filters);
    });
  }

  subscribe(fn: (e: EventMessage) => void): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }

  get listeners(): number {
    return this.emitter.listenerCount('event');
  }
}

/** Docker's event filters: type, event (action), container, image, network, volume, label, daemon, scope. */
export function matchEvent(e: EventMessage, f: Filters): boolean {
  const any = (key: string, test: (v: string) => boolean) => {
    const vs = f.get(key);
    return !vs || vs.length === 0 || vs.some(test);
  };
  const attrs = e.Actor.Attributes;
  const nameOrId = (v: string) => e.Actor.ID === v || e.Actor.ID.startsWith(v) || attrs.name === v;
  return any('type', (v) => e.Type === v)
    && any('event', (v) => e.Action === v || e.Action.startsWith(`${v}:`))
    && any('scope', (v) => v === 'local')
    && (!f.has('container') || (e.Type === 'container' && any('container', nameOrId)))
    && (!f.has('image') || any('image', (v) => (e.Type === 'image' ? nameOrId(v) : attrs.image === v || attrs.image?.startsWith(`${v}:`) === true)))
    && (!f.has('network') || (e.Type === 'network' && any('network', nameOrId)))
    && (!f.has('volume') || (e.Type === 'volume' && any('volume', nameOrId)))
    && (!f.has('daemon') || (e.Type === 'daemon' && any('daemon', nameOrId)))
    && matchLabels(f.get('label'), attrs);
}

/** Docker's time arguments: unix seconds with optional fraction, RFC 3339, or a duration before now (`10m`). */
export function parseEventTime(v: string | undefined, now = Date.now()): bigint | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^-?\d+(\.\d+)?$/.test(v)) {
    const [s, frac = ''] = v.split('.');
    return BigInt(s!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
  }
  const d = parseDuration(v);
  if (d !== undefined) return BigInt(now - d) * 1_000_000n;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  const nanos = /\.(\d+)/.exec(v)?.[1];
  const base = BigInt(Math.floor(t / 1000)) * 1_000_000_000n;
  return base + (nanos ? BigInt((nanos + '000000000').slice(0, 9)) : BigInt(t % 1000) * 1_000_000n);
}

/** Go durations: `1h2m3.5s`, `300ms`, `10m`. Milliseconds. */
export function parseDuration(v: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v)) !== null) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    total += Number(m[1]) * unit[m[2]!]!;
    matched += m[0].length;
  }
  return matched === v.length && matched > 0 ? total : undefined;
}
