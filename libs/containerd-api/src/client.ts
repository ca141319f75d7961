/**
 * `RuntimedClient`: the typed client of berth-runtimed (and of a real containerd, for the containerd services)
 * that berthd uses. One channel per address; namespace and lease travel as containerd's metadata. Errors come
 * back as @berth/errdefs classes (NotFoundError, AlreadyExistsError, …) with the server's message.
 */
import * as grpc from '@grpc/grpc-js';
import { fromGrpc } from '@berth/errdefs';
import { EVENT_TYPES, fromTimestamp, packMessage, unpackMessage, type EventTopic } from './any.ts';
import { LEASE_METADATA, MAX_MESSAGE_BYTES, NAMESPACE_METADATA, serviceDefinition } from './server.ts';
import type {
  Any, CollectResponse, Container, ContentInfo, ContentStatus, CreateTaskRequest, DeleteTaskResponse, Descriptor, Envelope,
  ExecProcessRequest, ExitStatus, Image, JobResult, Labels, Lease, LeaseResource, Metric, Mount, Namespace, Plugin, Process,
  ProcessInfo, Progress, PullRequest, PushRequest, SnapshotInfo, SnapshotUsage, WriteContentRequest, WriteContentResponse,
} from './types.ts';

const SERVICES = {
  version: 'containerd.services.version.v1.Version',
  introspection: 'containerd.services.introspection.v1.Introspection',
  namespaces: 'containerd.services.namespaces.v1.Namespaces',
  leases: 'containerd.services.leases.v1.Leases',
  containers: 'containerd.services.containers.v1.Containers',
  images: 'containerd.services.images.v1.Images',
  content: 'containerd.services.content.v1.Content',
  snapshots: 'containerd.services.snapshots.v1.Snapshots',
  diff: 'containerd.services.diff.v1.Diff',
  tasks: 'containerd.services.tasks.v1.Tasks',
  events: 'containerd.services.events.v1.Events',
  pull: 'berth.jobs.v1.Pull',
  push: 'berth.jobs.v1.Push',
  gc: 'berth.jobs.v1.GC',
} as const;
type ServiceName = keyof typeof SERVICES;

type Callback = (err: grpc.ServiceError | null, res: unknown) => void;
type RawClient = Record<string, (...args: unknown[]) => unknown> & grpc.Client;

export interface RuntimedClientOptions {
  /** containerd namespace for every call (default `default`; berthd uses `berth`). */
  namespace?: string;
  /** Lease id sent with every call (`containerd-lease`), protecting what the calls create from GC. */
  lease?: string;
}

/** An event from Events/Subscribe with its payload decoded (`event` has the message's camelCase fields). */
export interface RuntimedEvent {
  timestamp: Date | undefined;
  namespace: string;
  topic: string;
  /** The payload's type URL, e.g. `containerd.events.TaskExit`. */
  type: string;
  event: Record<string, unknown>;
}

/** A pull or push as the engine follows it: progress messages, then the result. */
export interface JobStream extends AsyncIterable<Progress> {
  /** Stops following (the job itself goes on in runtimed). */
  cancel(): void;
}

/** Normalizes an address: a bare path or `unix://path` becomes grpc-js's `unix:///abs/path`. */
export function grpcTarget(address: string): string {
  if (address.startsWith('unix://')) return `unix://${address.slice('unix://'.length)}`;
  if (address.startsWith('/')) return `unix://${address}`;
  return address;
}

function toError(err: unknown): Error {
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e?.code === 'number') return fromGrpc(e.code, e.details ?? e.message ?? 'unknown error');
  return err instanceof Error ? err : new Error(String(err));
}

/** Shared per address: the channel and one client stub per service. */
class Connection {
  readonly channel: grpc.Channel;
  readonly stubs = new Map<ServiceName, RawClient>();
  readonly address: string;

  constructor(address: string) {
    this.address = address;
    this.channel = new grpc.Channel(grpcTarget(address), grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // no channelz bookkeeping per call (berthd makes several runtimed calls per container operation)
      'grpc.enable_channelz': 0,
    });
  }

  stub(name: ServiceName): RawClient {
    let s = this.stubs.get(name);
    if (!s) {
      const Ctor = grpc.makeGenericClientConstructor(serviceDefinition(SERVICES[name]), name);
      s = new Ctor(grpcTarget(this.address), grpc.credentials.createInsecure(), { channelOverride: this.channel }) as unknown as RawClient;
      this.stubs.set(name, s);
    }
    return s;
  }
}

export class RuntimedClient {
  readonly namespace: string;
  readonly lease: string | undefined;
  private readonly conn: Connection;

  constructor(address: string | Connection, options: RuntimedClientOptions = {}) {
    this.conn = typeof address === 'string' ? new Connection(address) : address;
    this.namespace = options.namespace ?? 'default';
    this.lease = options.lease;
  }

  get address(): string {
    return this.conn.address;
  }

  /** The same connection in another namespace. */
  withNamespace(namespace: string): RuntimedClient {
    return new RuntimedClient(this.conn, { namespace, ...(this.lease ? { lease: this.lease } : {}) });
  }

  /** The same connection, every call carrying `lease`. */
  withLease(lease: string | undefined): RuntimedClient {
    return new RuntimedClient(this.conn, { namespace: this.namespace, ...(lease ? { lease } : {}) });
  }

  /** Waits until the daemon accepts connections (e.g. right after starting it). */
  async waitReady(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.version();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw toError(err);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  close(): void {
    for (const s of this.conn.stubs.values()) s.close();
    this.conn.channel.close();
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set(NAMESPACE_METADATA, this.namespace);
    if (this.lease) md.set(LEASE_METADATA, this.lease);
    return md;
  }

  private call<Res>(service: ServiceName, method: string, req: object, timeoutMs?: number): Promise<Res> {
    const stub = this.conn.stub(service);
    const options: grpc.CallOptions = timeoutMs ? { deadline: Date.now() + timeoutMs } : {};
    return new Promise<Res>((resolve, reject) => {
      const cb: Callback = (err, res) => (err ? reject(toError(err)) : resolve(res as Res));
      stub[method]!.call(stub, req, this.metadata(), options, cb);
    });
  }

  private stream<Res>(service: ServiceName, method: string, req: object): grpc.ClientReadableStream<Res> {
    const stub = this.conn.stub(service);
    return stub[method]!.call(stub, req, this.metadata()) as grpc.ClientReadableStream<Res>;
  }

  private async* iterate<Res>(s: grpc.ClientReadableStream<Res>): AsyncGenerator<Res> {
    try {
      for await (const msg of s) yield msg as Res;
    } catch (err) {
      if ((err as grpc.ServiceError).code === grpc.status.CANCELLED) return;
      throw toError(err);
    } finally {
      s.cancel();
    }
  }

  // --- Version, Introspection -------------------------------------------------------------------------------

  version(): Promise<{ version: string; revision: string }> {
    return this.call('version', 'Version', {});
  }

  async plugins(filters: string[] = []): Promise<Plugin[]> {
    return (await this.call<{ plugins: Plugin[] }>('introspection', 'Plugins', { filters })).plugins;
  }

  async serverUuid(): Promise<string> {
    return (await this.call<{ uuid: string }>('introspection', 'Server', {})).uuid;
  }

  // --- Namespaces ---------------------------------------------------------------------------------------------

  readonly namespaces = {
    get: async (name: string): Promise<Namespace> => (await this.call<{ namespace: Namespace }>('namespaces', 'Get', { name })).namespace,
    list: async (): Promise<Namespace[]> => (await this.call<{ namespaces: Namespace[] }>('namespaces', 'List', {})).namespaces,
    create: async (name: string, labels: Labels = {}): Promise<Namespace> =>
      (await this.call<{ namespace: Namespace }>('namespaces', 'Create', { namespace: { name, labels } })).namespace,
    update: async (name: string, labels: Labels, paths?: string[]): Promise<Namespace> =>
      (await this.call<{ namespace: Namespace }>('namespaces', 'Update', { namespace: { name, labels }, updateMask: paths ? { paths } : null })).namespace,
    delete: async (name: string): Promise<void> => {
      await this.call('namespaces', 'Delete', { name });
    },
  };

  // --- Leases -------------------------------------------------------------------------------------------------

  readonly leases = {
    /** `id` empty: the server picks one. Label `containerd.io/gc.expire` (RFC3339) makes it expire. */
    create: async (id = '', labels: Labels = {}): Promise<Lease> => (await this.call<{ lease: Lease }>('leases', 'Create', { id, labels })).lease,
    delete: async (id: string, sync = false): Promise<void> => {
      await this.call('leases', 'Delete', { id, sync });
    },
    list: async (filters: string[] = []): Promise<Lease[]> => (await this.call<{ leases: Lease[] }>('leases', 'List', { filters })).leases,
    addResource: async (id: string, resource: LeaseResource): Promise<void> => {
      await this.call('leases', 'AddResource', { id, resource });
    },
    deleteResource: async (id: string, resource: LeaseResource): Promise<void> => {
      await this.call('leases', 'DeleteResource', { id, resource });
    },
    listResources: async (id: string): Promise<LeaseResource[]> =>
      (await this.call<{ resources: LeaseResource[] }>('leases', 'ListResources', { id })).resources,
  };

  // --- Images -------------------------------------------------------------------------------------------------

  readonly images = {
    get: async (name: string): Promise<Image> => (await this.call<{ image: Image }>('images', 'Get', { name })).image,
    list: async (filters: string[] = []): Promise<Image[]> => (await this.call<{ images: Image[] }>('images', 'List', { filters })).images,
    create: async (image: Pick<Image, 'name' | 'target'> & { labels?: Labels }): Promise<Image> =>
      (await this.call<{ image: Image }>('images', 'Create', { image: { labels: {}, ...image } })).image,
    /** `paths` limits the update (`labels`, `labels.<key>`, `target`); omitted: everything. */
    update: async (image: Pick<Image, 'name'> & Partial<Image>, paths?: string[]): Promise<Image> =>
      (await this.call<{ image: Image }>('images', 'Update', { image, updateMask: paths ? { paths } : null })).image,
    /** `sync`: garbage-collect what the image held before returning. */
    delete: async (name: string, sync = false): Promise<void> => {
      await this.call('images', 'Delete', { name, sync });
    },
  };

  // --- Content ------------------------------------------------------------------------------------------------

  readonly content = {
    info: async (digest: string): Promise<ContentInfo> => (await this.call<{ info: ContentInfo }>('content', 'Info', { digest })).info,
    update: async (info: Pick<ContentInfo, 'digest' | 'labels'>, paths?: string[]): Promise<ContentInfo> =>
      (await this.call<{ info: ContentInfo }>('content', 'Update', { info, updateMask: paths ? { paths } : null })).info,
    list: async (filters: string[] = []): Promise<ContentInfo[]> => {
      const out: ContentInfo[] = [];
      for await (const m of this.iterate(this.stream<{ info: ContentInfo[] }>('content', 'List', { filters }))) out.push(...m.info);
      return out;
    },
    delete: async (digest: string): Promise<void> => {
      await this.call('content', 'Delete', { digest });
    },
    /** Streams a blob (or `size` bytes of it from `offset`; size 0 = to the end). */
    read: (digest: string, offset = 0, size = 0): AsyncIterable<Buffer> => {
      const it = this.iterate(this.stream<{ offset: number; data: Buffer }>('content', 'Read', { digest, offset, size }));
      return (async function* () {
        for await (const m of it) yield m.data;
      })();
    },
    readAll: async (digest: string): Promise<Buffer> => {
      const parts: Buffer[] = [];
      for await (const d of this.content.read(digest)) parts.push(d);
      return Buffer.concat(parts);
    },
    /**
     * Writes a blob under ingest `ref` and commits it against `expected` (verified by the server). Resolves to
     * the digest; rejects with AlreadyExistsError when the store has it already.
     */
    write: (ref: string, data: Buffer | AsyncIterable<Buffer>, opts: { expected?: string; total?: number; labels?: Labels } = {}) =>
      this.writeContent(ref, data, opts),
    status: async (ref: string): Promise<ContentStatus> => (await this.call<{ status: ContentStatus }>('content', 'Status', { ref })).status,
    listStatuses: async (filters: string[] = []): Promise<ContentStatus[]> =>
      (await this.call<{ statuses: ContentStatus[] }>('content', 'ListStatuses', { filters })).statuses,
    abort: async (ref: string): Promise<void> => {
      await this.call('content', 'Abort', { ref });
    },
  };

  private async writeContent(
    ref: string, data: Buffer | AsyncIterable<Buffer>, opts: { expected?: string; total?: number; labels?: Labels },
  ): Promise<string> {
    const stub = this.conn.stub('content');
    const call = stub.Write!.call(stub, this.metadata()) as grpc.ClientDuplexStream<Partial<WriteContentRequest>, WriteContentResponse>;
    const responses = call[Symbol.asyncIterator]() as AsyncIterator<WriteContentResponse>;
    const next = async (): Promise<WriteContentResponse> => {
      try {
        const r = await responses.next();
        if (r.done) throw new Error(`write content ${ref}: the server closed the stream early`);
        return r.value;
      } catch (err) {
        throw toError(err);
      }
    };
    const base = { ref, expected: opts.expected ?? '', total: opts.total ?? 0 };
    try {
      call.write({ action: 'STAT', ...base });
      let offset = (await next()).offset;
      if (offset > 0) offset = 0; // restart a stale ingest from the beginning (the server truncates at offset 0)
      const chunks = Buffer.isBuffer(data) ? chunk(data) : data;
      let first = true;
      for await (const c of chunks) {
        call.write({ action: 'WRITE', ...base, offset: first ? 0 : offset, data: c });
        first = false;
        offset = (await next()).offset;
      }
      call.write({ action: 'COMMIT', ...base, offset, labels: opts.labels ?? {} });
      const done = await next();
      call.end();
      return done.digest;
    } catch (err) {
      call.cancel();
      throw err;
    }
  }

  // --- Snapshots ----------------------------------------------------------------------------------------------

  readonly snapshots = {
    prepare: async (key: string, parent = '', opts: { snapshotter?: string; labels?: Labels } = {}): Promise<Mount[]> =>
      (await this.call<{ mounts: Mount[] }>('snapshots', 'Prepare', { snapshotter: opts.snapshotter ?? 'overlayfs', key, parent, labels: opts.labels ?? {} })).mounts,
    view: async (key: string, parent: string, opts: { snapshotter?: string; labels?: Labels } = {}): Promise<Mount[]> =>
      (await this.call<{ mounts: Mount[] }>('snapshots', 'View', { snapshotter: opts.snapshotter ?? 'overlayfs', key, parent, labels: opts.labels ?? {} })).mounts,
    mounts: async (key: string, snapshotter = 'overlayfs'): Promise<Mount[]> =>
      (await this.call<{ mounts: Mount[] }>('snapshots', 'Mounts', { snapshotter, key })).mounts,
    commit: async (name: string, key: string, opts: { snapshotter?: string; labels?: Labels } = {}): Promise<void> => {
      await this.call('snapshots', 'Commit', { snapshotter: opts.snapshotter ?? 'overlayfs', name, key, labels: opts.labels ?? {} });
    },
    remove: async (key: string, snapshotter = 'overlayfs'): Promise<void> => {
      await this.call('snapshots', 'Remove', { snapshotter, key });
    },
    stat: async (key: string, snapshotter = 'overlayfs'): Promise<SnapshotInfo> =>
      (await this.call<{ info: SnapshotInfo }>('snapshots', 'Stat', { snapshotter, key })).info,
    update: async (info: Pick<SnapshotInfo, 'name' | 'labels'>, paths?: string[], snapshotter = 'overlayfs'): Promise<SnapshotInfo> =>
      (await this.call<{ info: SnapshotInfo }>('snapshots', 'Update', { snapshotter, info, updateMask: paths ? { paths } : null })).info,
    list: async (filters: string[] = [], snapshotter = 'overlayfs'): Promise<SnapshotInfo[]> => {
      const out: SnapshotInfo[] = [];
      for await (const m of this.iterate(this.stream<{ info: SnapshotInfo[] }>('snapshots', 'List', { snapshotter, filters }))) out.push(...m.info);
      return out;
    },
    usage: async (key: string, snapshotter = 'overlayfs'): Promise<SnapshotUsage> => this.call('snapshots', 'Usage', { snapshotter, key }),
  };

  // --- Diff ---------------------------------------------------------------------------------------------------

  readonly diff = {
    /** Applies the layer `diff` (a content blob) onto the mounts; returns the uncompressed layer's descriptor (diffID). */
    apply: async (diff: Descriptor, mounts: Mount[]): Promise<Descriptor> =>
      (await this.call<{ applied: Descriptor }>('diff', 'Apply', { diff, mounts, payloads: {} })).applied,
    /** Computes the layer that turns `lower` into `upper`, stores it as content and returns its descriptor. */
    diff: async (lower: Mount[], upper: Mount[], opts: { mediaType?: string; ref?: string; labels?: Labels } = {}): Promise<Descriptor> =>
      (await this.call<{ diff: Descriptor }>('diff', 'Diff', {
        left: lower, right: upper, mediaType: opts.mediaType ?? '', ref: opts.ref ?? '', labels: opts.labels ?? {},
      })).diff,
  };

  // --- Containers ---------------------------------------------------------------------------------------------

  readonly containers = {
    get: async (id: string): Promise<Container> => (await this.call<{ container: Container }>('containers', 'Get', { id })).container,
    list: async (filters: string[] = []): Promise<Container[]> =>
      (await this.call<{ containers: Container[] }>('containers', 'List', { filters })).containers,
    create: async (container: Pick<Container, 'id'> & Partial<Container>): Promise<Container> =>
      (await this.call<{ container: Container }>('containers', 'Create', { container })).container,
    update: async (container: Pick<Container, 'id'> & Partial<Container>, paths?: string[]): Promise<Container> =>
      (await this.call<{ container: Container }>('containers', 'Update', { container, updateMask: paths ? { paths } : null })).container,
    delete: async (id: string): Promise<void> => {
      await this.call('containers', 'Delete', { id });
    },
  };

  // --- Tasks --------------------------------------------------------------------------------------------------

  readonly tasks = {
    create: async (req: Pick<CreateTaskRequest, 'containerId'> & Partial<CreateTaskRequest>): Promise<{ containerId: string; pid: number }> =>
      this.call('tasks', 'Create', req),
    start: async (containerId: string, execId = ''): Promise<number> => (await this.call<{ pid: number }>('tasks', 'Start', { containerId, execId })).pid,
    /** Resolves when the process exits (may be called before `start`). */
    wait: async (containerId: string, execId = ''): Promise<ExitStatus> => this.call('tasks', 'Wait', { containerId, execId }),
    kill: async (containerId: string, signal: number, opts: { execId?: string; all?: boolean } = {}): Promise<void> => {
      await this.call('tasks', 'Kill', { containerId, execId: opts.execId ?? '', signal, all: opts.all ?? false });
    },
    delete: async (containerId: string): Promise<DeleteTaskResponse> => this.call('tasks', 'Delete', { containerId }),
    deleteProcess: async (containerId: string, execId: string): Promise<DeleteTaskResponse> =>
      this.call('tasks', 'DeleteProcess', { containerId, execId }),
    get: async (containerId: string, execId = ''): Promise<Process> =>
      (await this.call<{ process: Process }>('tasks', 'Get', { containerId, execId })).process,
    list: async (filter = ''): Promise<Process[]> => (await this.call<{ tasks: Process[] }>('tasks', 'List', { filter })).tasks,
    exec: async (req: Pick<ExecProcessRequest, 'containerId' | 'execId' | 'spec'> & Partial<ExecProcessRequest>): Promise<void> => {
      await this.call('tasks', 'Exec', req);
    },
    resizePty: async (containerId: string, width: number, height: number, execId = ''): Promise<void> => {
      await this.call('tasks', 'ResizePty', { containerId, execId, width, height });
    },
    closeIO: async (containerId: string, execId = ''): Promise<void> => {
      await this.call('tasks', 'CloseIO', { containerId, execId, stdin: true });
    },
    pause: async (containerId: string): Promise<void> => {
      await this.call('tasks', 'Pause', { containerId });
    },
    resume: async (containerId: string): Promise<void> => {
      await this.call('tasks', 'Resume', { containerId });
    },
    pids: async (containerId: string): Promise<ProcessInfo[]> =>
      (await this.call<{ processes: ProcessInfo[] }>('tasks', 'ListPids', { containerId })).processes,
    /** `filters` like `id==<container>`; each metric's data is JSON stats (BERTH_STATS_TYPE_URL) from berth. */
    metrics: async (filters: string[] = []): Promise<Metric[]> => (await this.call<{ metrics: Metric[] }>('tasks', 'Metrics', { filters })).metrics,
    /** `resources` is an OCI LinuxResources object packed with LINUX_RESOURCES_TYPE_URL. */
    update: async (containerId: string, resources: Any, annotations: Labels = {}): Promise<void> => {
      await this.call('tasks', 'Update', { containerId, resources, annotations });
    },
  };

  // --- Events -------------------------------------------------------------------------------------------------

  readonly events = {
    /** Follows events (containerd filters: `topic=="/tasks/exit"`, `namespace==berth`); ends when `signal` aborts. */
    subscribe: (filters: string[] = [], signal?: AbortSignal): AsyncIterable<RuntimedEvent> => {
      const s = this.stream<Envelope>('events', 'Subscribe', { filters });
      signal?.addEventListener('abort', () => s.cancel(), { once: true });
      const it = this.iterate(s);
      return (async function* () {
        for await (const env of it) yield decodeEnvelope(env);
      })();
    },
    publish: async (topic: EventTopic, event: Record<string, unknown>): Promise<void> => {
      await this.call('events', 'Publish', { topic, event: packMessage(EVENT_TYPES[topic], event) });
    },
  };

  // --- berth.jobs.v1 ------------------------------------------------------------------------------------------

  /** Follows a pull job: progress messages, the last one carrying `result`. Errors end the iteration with a thrown error. */
  pullStream(req: Pick<PullRequest, 'ref'> & Partial<PullRequest>): JobStream {
    return this.jobStream(this.stream<Progress>('pull', 'Pull', req));
  }

  /** Pulls and resolves to the result; `onProgress` sees every update. */
  async pull(req: Pick<PullRequest, 'ref'> & Partial<PullRequest>, onProgress?: (p: Progress) => void): Promise<JobResult> {
    return this.finish(this.pullStream(req), onProgress, `pull ${req.ref}`);
  }

  pushStream(req: Pick<PushRequest, 'name'> & Partial<PushRequest>): JobStream {
    return this.jobStream(this.stream<Progress>('push', 'Push', req));
  }

  async push(req: Pick<PushRequest, 'name'> & Partial<PushRequest>, onProgress?: (p: Progress) => void): Promise<JobResult> {
    return this.finish(this.pushStream(req), onProgress, `push ${req.name}`);
  }

  /** Runs garbage collection now and reports what it removed. */
  gc(): Promise<CollectResponse> {
    return this.call('gc', 'Collect', {});
  }

  private jobStream(s: grpc.ClientReadableStream<Progress>): JobStream {
    const it = this.iterate(s);
    return { [Symbol.asyncIterator]: () => it, cancel: () => s.cancel() };
  }

  private async finish(stream: JobStream, onProgress: ((p: Progress) => void) | undefined, what: string): Promise<JobResult> {
    for await (const p of stream) {
      onProgress?.(p);
      if (p.result) return p.result;
    }
    throw new Error(`${what}: the job stream ended without a result`);
  }
}

function* chunk(data: Buffer, size = 1 << 20): Generator<Buffer> {
  if (data.length === 0) return;
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Decodes an Events/Subscribe envelope's payload. */
export function decodeEnvelope(env: Envelope): RuntimedEvent {
  let event: Record<string, unknown> = {};
  let type = '';
  if (env.event) {
    type = env.event.type_url;
    try {
      event = unpackMessage(env.event);
    } catch {
      event = {};
    }
  }
  return { timestamp: fromTimestamp(env.timestamp), namespace: env.namespace, topic: env.topic, type, event };
}
