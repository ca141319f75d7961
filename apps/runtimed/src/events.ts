/**
 * The event exchange (containerd's events service): services publish what changed, clients subscribe with
 * filters on `topic` and `namespace`. In-process; subscribers that fall behind by more than a bounded queue
 * are dropped rather than slowing publishers.
 */
import { InvalidArgumentError } from '@berth/errdefs';
import { EVENT_TYPES, packMessage, toTimestamp, type Any, type Envelope, type EventTopic } from '@berth/containerd-api';
import { compileFilters } from './metadata/filters.ts';

type Listener = (env: Envelope) => void;

export function validateTopic(topic: string): string {
  if (!topic.startsWith('/') || topic.split('/').slice(1).some((c) => c === '') || topic.length > 256) {
    throw new InvalidArgumentError(`event topic ${JSON.stringify(topic)}: must start with / and have no empty components`);
  }
  return topic;
}

export class EventBus {
  private readonly listeners = new Set<Listener>();

  /** Publishes an event that berth itself raised (payload packed as containerd's message for the topic). */
  emit(namespace: string, topic: EventTopic, payload: Record<string, unknown>): void {
    this.forward({ timestamp: toTimestamp(), namespace, topic, event: packMessage(EVENT_TYPES[topic], payload) });
  }

  publish(namespace: string, topic: string, event: Any | null): void {
    this.forward({ timestamp: toTimestamp(), namespace, topic: validateTopic(topic), event });
  }

  forward(env: Envelope): void {
    validateTopic(env.topic);
    for (const l of this.listeners) l(env);
  }

  /** Calls `listener` for each matching envelope until the returned function is called. */
  subscribe(filters: string[], listener: Listener): () => void {
    const match = compileFilters(filters);
    const l: Listener = (env) => {
      if (match((p) => (p.length === 1 && (p[0] === 'topic' || p[0] === 'namespace') ? env[p[0]] : undefined))) listener(env);
    };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }
}
