// Engine API image, build and progress types.
import type { ContainerConfig, GraphDriverData } from './container.ts';

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string> | null;
  Containers: number;
  Manifests?: unknown[];
  Descriptor?: { mediaType: string; digest: string; size: number };
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Parent: string;
  Comment: string;
  Created: string;
  Container?: string;
  ContainerConfig?: ContainerConfig;
  DockerVersion: string;
  Author: string;
  Config: ContainerConfig | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  VirtualSize?: number;
  GraphDriver: GraphDriverData;
  RootFS: { Type: string; Layers?: string[] };
  Metadata: { LastTagTime?: string };
  Descriptor?: { mediaType: string; digest: string; size: number };
}

export interface ImageHistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export interface ImageDeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

export interface ImagePruneResponse {
  ImagesDeleted: ImageDeleteResponseItem[] | null;
  SpaceReclaimed: number;
}

export interface ImageSearchResult {
  description: string;
  is_official: boolean;
  is_automated?: boolean;
  name: string;
  star_count: number;
}

/** `POST /commit` and `POST /build` answer with an id. */
export interface IdResponse {
  Id: string;
}

export interface ProgressDetail {
  current?: number;
  total?: number;
  units?: string;
  start?: number;
  hidecounts?: boolean;
}

/**
 * One line of a JSON progress stream (pull, push, build, load, import): docker's `jsonmessage.JSONMessage`.
 * A line with `error`/`errorDetail` ends the operation with that error.
 */
export interface JSONMessage {
  stream?: string;
  status?: string;
  progressDetail?: ProgressDetail;
  /** Pre-rendered progress bar (older daemons; clients render their own from `progressDetail`). */
  progress?: string;
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  errorDetail?: { code?: number; message: string };
  error?: string;
  aux?: unknown;
}

export interface BuildCachePruneResponse {
  CachesDeleted: string[] | null;
  SpaceReclaimed: number;
}
