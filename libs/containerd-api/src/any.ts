/** google.protobuf.Any and Timestamp helpers, and the type URLs containerd uses. */
import { messageType } from './protos.ts';
import type { Any, Timestamp } from './types.ts';

/** containerd's type URLs for OCI runtime-spec objects, carried as JSON inside Any. */
export const SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
export const PROCESS_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
export const LINUX_RESOURCES_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';
/** berth's container stats (the shim's stats object as JSON) in Tasks/Metrics. */
export const BERTH_STATS_TYPE_URL = 'types.berth.dev/stats/1/Stats';

export function packJson(type_url: string, value: unknown): Any {
  return { type_url, value: Buffer.from(JSON.stringify(value)) };
}

export function unpackJson<T = unknown>(any: Any | null | undefined): T | undefined {
  if (!any || any.value.length === 0) return undefined;
  return JSON.parse(any.value.toString('utf8')) as T;
}

/** Packs a protobuf message (`fullName` e.g. `containerd.events.TaskExit`); the type URL is the full name, as containerd's typeurl does. */
export function packMessage(fullName: string, value: Record<string, unknown>): Any {
  const type = messageType(fullName);
  return { type_url: fullName, value: Buffer.from(type.encode(type.fromObject(value)).finish()) };
}

/** Decodes a protobuf Any whose type is known to the loaded protos; JSON type URLs are parsed as JSON. */
export function unpackMessage(any: Any): Record<string, unknown> {
  if (any.type_url.startsWith('types.containerd.io/') || any.type_url.startsWith('types.berth.dev/')) {
    return unpackJson<Record<string, unknown>>(any) ?? {};
  }
  const name = any.type_url.replace(/^.*\//, '');
  const type = messageType(name);
  return type.toObject(type.decode(any.value), { longs: Number, enums: String, defaults: true }) as Record<string, unknown>;
}

export function toTimestamp(at: Date | number = Date.now()): Timestamp {
  const ms = typeof at === 'number' ? at : at.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) };
}

/** Nanosecond-precise timestamps (from `process.hrtime`-free sources like RFC3339Nano strings) keep their nanos. */
export function timestampFromIso(iso: string): Timestamp {
  const m = /^(.*?\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!m) return toTimestamp(new Date(iso));
  const seconds = Math.floor(new Date(`${m[1]}${m[3]}`).getTime() / 1000);
  const nanos = m[2] ? Number(m[2].padEnd(9, '0').slice(0, 9)) : 0;
  return { seconds, nanos };
}

export function fromTimestamp(ts: Timestamp | null | undefined): Date | undefined {
  if (!ts || (ts.seconds === 0 && ts.nanos === 0)) return undefined;
  return new Date(ts.seconds * 1000 + Math.floor(ts.nanos / 1e6));
}

/** Event topics and the message type each carries (containerd 1.6). */
export const EVENT_TYPES = {
  '/namespaces/create': 'containerd.events.NamespaceCreate',
  '/namespaces/update': 'containerd.events.NamespaceUpdate',
  '/namespaces/delete': 'containerd.events.NamespaceDelete',
  '/images/create': 'containerd.services.images.v1.ImageCreate',
  '/images/update': 'containerd.services.images.v1.ImageUpdate',
  '/images/delete': 'containerd.services.images.v1.ImageDelete',
  '/containers/create': 'containerd.events.ContainerCreate',
  '/containers/update': 'containerd.events.ContainerUpdate',
  '/containers/delete': 'containerd.events.ContainerDelete',
  '/content/delete': 'containerd.events.ContentDelete',
  '/snapshot/prepare': 'containerd.events.SnapshotPrepare',
  '/snapshot/commit': 'containerd.events.SnapshotCommit',
  '/snapshot/remove': 'containerd.events.SnapshotRemove',
  '/tasks/create': 'containerd.events.TaskCreate',
  '/tasks/start': 'containerd.events.TaskStart',
  '/tasks/delete': 'containerd.events.TaskDelete',
  '/tasks/exit': 'containerd.events.TaskExit',
  '/tasks/oom': 'containerd.events.TaskOOM',
  '/tasks/exec-added': 'containerd.events.TaskExecAdded',
  '/tasks/exec-started': 'containerd.events.TaskExecStarted',
  '/tasks/paused': 'containerd.events.TaskPaused',
  '/tasks/resumed': 'containerd.events.TaskResumed',
} as const;
export type EventTopic = keyof typeof EVENT_TYPES;
