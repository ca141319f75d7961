/**
 * A container as berthd keeps it: Docker's configuration and state, persisted as one JSON file per container
 * under `<data-root>/containers/<id>/config.json`. What runtimed knows (the image's content, the snapshot, the
 * task) is not copied here; the record names it (`Image`, `SnapshotKey`).
 */
import type { ContainerConfig, EndpointSettings, Health, HostConfig, MountPoint } from '@berth/docker-api';

export type StateName = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface StateRecord {
  Status: StateName;
  Pid: number;
  ExitCode: number;
  Error: string;
  OOMKilled: boolean;
  StartedAt: string;
  FinishedAt: string;
  Health?: Health;
}

/** One mount as the container sees it; `Type: volume` mounts name their volume. */
export interface MountRecord extends MountPoint {
  /** Anonymous volumes are removed with `docker rm -v`. */
  Anonymous?: boolean;
  /** tmpfs options (`size=…,mode=…`). */
  TmpfsOptions?: string;
  /** Copy the image's content at the destination into an empty volume (Docker's default; `nocopy` turns it off). */
  CopyData?: boolean;
  /** From `--mount` (strict: a missing bind source is an error) rather than `-v` (created). */
  FromMountApi?: boolean;
  /** The bind source is a subdirectory of the volume. */
  Subpath?: string;
}

export interface ContainerRecord {
  Id: string;
  /** RFC 3339 with nanoseconds. */
  Created: string;
  /** With the leading slash, as Docker shows it. */
  Name: string;
  Path: string;
  Args: string[];
  /** The effective configuration: the request merged with the image's config. */
  Config: ContainerConfig;
  HostConfig: HostConfig;
  /** `NetworkingConfig.EndpointsConfig` as requested (the networks extension fills in the live settings). */
  EndpointsConfig: Record<string, EndpointSettings>;
  /** The image id (`sha256:` + config digest). */
  Image: string;
  /** The runtimed image record the container was created from (normalized name), for `ps` and events. */
  ImageName: string;
  /** What the user typed (`busybox`), shown in `ps` as docker does. */
  ImageRef: string;
  /** The image's manifest (or index) digest at creation. */
  ImageTarget: string;
  /** The image's config digest list of layer diffIDs' chain (parent of the container's snapshot). */
  ImageChainId: string;
  State: StateRecord;
  RestartCount: number;
  HasBeenStartedBefore: boolean;
  HasBeenManuallyStopped: boolean;
  /** `overlay2` / `vfs` as docker shows it. */
  Driver: string;
  Snapshotter: string;
  SnapshotKey: string;
  LogPath: string;
  Mounts: MountRecord[];
  /** The platform the image was made for. */
  Platform: string;
}

export function emptyState(): StateRecord {
  return {
    Status: 'created', Pid: 0, ExitCode: 0, Error: '', OOMKilled: false,
    StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
  };
}

/** Go's zero time as Docker prints it for never-happened events. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Now in RFC 3339 with nanoseconds (Docker's `time.RFC3339Nano`, trailing zeros trimmed). */
export function nowRfc3339Nano(): string {
  const ms = Date.now();
  const ns = process.hrtime.bigint() % 1_000_000n;
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = (String(ms % 1000).padStart(3, '0') + String(ns).padStart(6, '0')).replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** Milliseconds since the epoch of an RFC 3339 time (0 for Go's zero time). */
export function timeMs(t: string): number {
  if (!t || t.startsWith('0001-')) return 0;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? 0 : ms;
}
