/**
 * What the build engine needs from the outside world — images, snapshots, containers, content — as one small
 * interface, so berthd drives it over runtimed (the real path) and tests can drive it over anything real.
 *
 * Vocabulary (containerd's): a *chain* is a committed snapshot named by the chainID of its layers (`''` is the
 * empty filesystem); a *work layer* is an active snapshot on top of a chain where one step makes its changes;
 * committing it turns its changes (the overlay upper directory) into a layer blob and names the snapshot by
 * the new chainID, without re-walking the whole tree.
 */
import type { ImageConfig } from '@berth/oci';

/** One layer of an image: the blob in the content store and its uncompressed digest. */
export interface LayerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
}

/** An image as a starting point: `FROM x`, `COPY --from=x`. */
export interface ImageSource {
  /** The image id (config digest); '' for scratch. */
  id: string;
  config: ImageConfig;
  layers: LayerDescriptor[];
  /** chainID of all its layers ('' when it has none). */
  chainId: string;
}

/** Docker's JSON progress message (pull progress during FROM). */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  [k: string]: unknown;
}

export interface RunMountSpec {
  /** Inside the container. */
  target: string;
  /** On the host: a directory or a file. */
  source: string;
  readOnly: boolean;
  /** tmpfs instead of a bind mount (`source` unused). */
  tmpfs?: { size: number };
  /** Keep the mount point in the layer if the runtime had to create it (VOLUME paths, as dockerd does). */
  keepMountPoint?: boolean;
}

/** A RUN step's process. */
export interface RunRequest {
  /** Container id (64 hex), as printed by `Running in`. */
  id: string;
  args: string[];
  /** The image's environment plus the build args it sees (the backend adds HOSTNAME, HOME, a default PATH). */
  env: string[];
  /** USER as written (`name`, `uid:gid`, …), resolved against the layer's /etc/passwd. */
  user: string;
  workdir: string;
  mounts: RunMountSpec[];
  /** `default` (the daemon's choice), `none` or `host`. */
  network: string;
  /** `insecure`: a privileged container (RUN --security=insecure). */
  security: string;
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

export interface WorkLayer {
  /** The chain it was prepared on. */
  readonly parent: string;
  /** Mounts it in this process for file operations (COPY, WORKDIR); returns the directory. Idempotent. */
  mount(): Promise<string>;
  unmount(): Promise<void>;
  /** Runs a container on it; resolves with the exit code. Mount targets it had to create are cleaned away. */
  run(req: RunRequest, signal: AbortSignal): Promise<number>;
  /**
   * Turns its changes into a layer and commits the snapshot as the chain `parent + layer`; undefined when
   * nothing changed (the work layer is removed then). Either way the work layer is gone afterwards.
   */
  commit(signal: AbortSignal): Promise<{ layer: LayerDescriptor; chainId: string } | undefined>;
  /** Discards it (idempotent; also unmounts). */
  remove(): Promise<void>;
}

/** A read-only mounted view of a chain (COPY --from, RUN --mount=from=…). */
export interface MountedView {
  readonly dir: string;
  release(): Promise<void>;
}

/** A step result kept for reuse: its full image config and layers. */
export interface CachedStep {
  config: ImageConfig;
  layers: LayerDescriptor[];
}

export interface GetImageOptions {
  /** Pull even when the image is present (`--pull`). */
  pull: boolean;
  platform?: string;
  progress: (m: ProgressMessage) => void;
  signal: AbortSignal;
}

export interface BuildBackend {
  /** An image by reference or id; pulled when missing (or always with `pull`), with pull progress reported. */
  getImage(ref: string, opts: GetImageOptions): Promise<ImageSource>;
  /** A writable work layer on top of a chain. */
  prepare(parent: string, signal: AbortSignal): Promise<WorkLayer>;
  /** A read-only view of a chain ('' is an empty directory). */
  view(chainId: string, signal: AbortSignal): Promise<MountedView>;
  /** The persistent directory of a `RUN --mount=type=cache` (created on first use). */
  cacheMount(id: string): Promise<string>;
  /** Stores an image (config bytes as given, so its id is their digest) and gives it the names (none: kept untagged). */
  writeImage(config: { bytes: Buffer; id: string }, layers: LayerDescriptor[], names: string[], signal: AbortSignal): Promise<void>;
  /** Gives an existing image (by id) the names (a build that only says `FROM x`). */
  tagImage(id: string, names: string[], signal: AbortSignal): Promise<void>;
  /** Step cache lookups; undefined when missing or when what it refers to is gone. */
  cacheGet(key: string): Promise<CachedStep | undefined>;
  /** Records a step result and keeps its layers and chains alive for later builds. */
  cachePut(key: string, step: CachedStep, chainIds: string[]): Promise<void>;
  /** A temporary directory for this build's scratch files (downloads, heredocs), removed with the build. */
  scratchDir(): string;
}
