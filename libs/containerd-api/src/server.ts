/**
 * Typed helpers for serving containerd's services with @grpc/grpc-js: the namespace and lease of a call
 * (containerd's `containerd-namespace` / `containerd-lease` metadata), handlers that turn thrown errors into
 * containerd's gRPC codes once (sent trailers-only when nothing was written yet, as grpc-js does), and
 * streaming with back-pressure.
 */
import * as grpc from '@grpc/grpc-js';
import { FailedPreconditionError, InvalidArgumentError, toGrpcError } from '@berth/errdefs';
import { grpcPackageDefinition } from './protos.ts';

export const NAMESPACE_METADATA = 'containerd-namespace';
export const LEASE_METADATA = 'containerd-lease';
/** containerd's message size limit (16 MiB), both ways. */
export const MAX_MESSAGE_BYTES = 16 << 20;

const NAMESPACE_RE = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/** What a handler learns about its call besides the request. */
export interface CallContext {
  /** Full method path, e.g. `/containerd.services.tasks.v1.Tasks/Create`. */
  readonly method: string;
  readonly metadata: grpc.Metadata;
  /** The namespace of the call; throws FailedPrecondition (as containerd) when the client sent none. */
  namespace(): string;
  /** The lease the client holds for this call, if any. */
  readonly lease: string | undefined;
  /** Aborted when the client cancels or goes away. */
  readonly signal: AbortSignal;
}

export interface ServerHooks {
  /** Called for every failed call (for logging); the error is already translated for the wire. */
  onError?(method: string, err: unknown): void;
  /** Called when a call ends (for debug logging and tracing); `ms` is the handler's wall time. */
  onDone?(method: string, ms: number): void;
}

export function validateNamespace(name: string): string {
  if (name.length === 0 || name.length > 76 || !NAMESPACE_RE.test(name)) {
    throw new InvalidArgumentError(`namespace ${JSON.stringify(name)}: invalid name (letters, digits, '.', '_', '-'; up to 76 characters)`);
  }
  return name;
}

interface SurfaceCall { metadata: grpc.Metadata; on(event: 'cancelled', listener: () => void): unknown }

function contextOf(method: string, call: SurfaceCall): CallContext {
  // The AbortController is made only for handlers that read `signal`: clients cancel most calls once they have
  // their answer (ctr does), and aborting builds a DOMException with a stack trace each time.
  let ac: AbortController | undefined;
  let cancelled = false;
  call.on('cancelled', () => {
    cancelled = true;
    ac?.abort();
  });
  const first = (key: string) => {
    const v = call.metadata.get(key)[0];
    return v === undefined ? undefined : String(v);
  };
  return {
    method,
    metadata: call.metadata,
    lease: first(LEASE_METADATA) || undefined,
    get signal() {
      if (!ac) {
        ac = new AbortController();
        if (cancelled) ac.abort();
      }
      return ac.signal;
    },
    namespace() {
      const ns = first(NAMESPACE_METADATA);
      if (!ns) throw new FailedPreconditionError(`${method}: namespace is required`);
      return validateNamespace(ns);
    },
  };
}

function statusOf(err: unknown): grpc.StatusObject {
  const g = toGrpcError(err);
  return { code: g.code, details: g.details, metadata: new grpc.Metadata() };
}

export type UnaryHandler<Req, Res> = (req: Req, ctx: CallContext) => Promise<Res> | Res;
export type ServerStreamHandler<Req, Res> = (req: Req, ctx: CallContext, send: (msg: Res) => Promise<void>) => Promise<void>;
export type BidiHandler<Req, Res> = (call: grpc.ServerDuplexStream<Req, Res>, ctx: CallContext) => Promise<void>;

/** One service's handlers; keys are the proto's method names (`Create`, `List`, …). */
export type ServiceHandlers = Record<string,
  | { kind: 'unary'; fn: UnaryHandler<unknown, unknown> }
  | { kind: 'serverStream'; fn: ServerStreamHandler<unknown, unknown> }
  | { kind: 'bidi'; fn: BidiHandler<unknown, unknown> }>;

export function unary<Req, Res>(fn: UnaryHandler<Req, Res>) {
  return { kind: 'unary' as const, fn: fn as unknown as UnaryHandler<unknown, unknown> };
}
export function serverStream<Req, Res>(fn: ServerStreamHandler<Req, Res>) {
  return { kind: 'serverStream' as const, fn: fn as unknown as ServerStreamHandler<unknown, unknown> };
}
export function bidi<Req, Res>(fn: BidiHandler<Req, Res>) {
  return { kind: 'bidi' as const, fn: fn as unknown as BidiHandler<unknown, unknown> };
}

/** Writes one message and waits while the transport's buffer is full. */
export function writeWithBackpressure<T>(
  call: grpc.ServerWritableStream<unknown, T> | grpc.ServerDuplexStream<unknown, T>, msg: T,
): Promise<void> {
  if (call.cancelled) return Promise.reject(Object.assign(new Error('call cancelled by the client'), { code: 'ABORT_ERR' }));
  if (call.write(msg)) return Promise.resolve();
  return new Promise((resolve) => call.once('drain', resolve));
}

/** The grpc-js service definition of a loaded service by full name (`containerd.services.tasks.v1.Tasks`). */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  const def = grpcPackageDefinition()[fullName];
  // Message definitions carry a `format`; service definitions are maps of methods.
  if (def && !('format' in def)) return def as unknown as grpc.ServiceDefinition;
  throw new Error(`service ${fullName} is not in the loaded protos`);
}

/**
 * Registers a service on a server. Methods without a handler answer UNIMPLEMENTED (grpc-js's default), so a
 * partial service is visible as such to clients.
 */
export function addService(server: grpc.Server, fullName: string, handlers: ServiceHandlers, hooks: ServerHooks = {}): void {
  const def = serviceDefinition(fullName);
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, h] of Object.entries(handlers)) {
    const method = def[name];
    if (!method) throw new Error(`service ${fullName} has no method ${name}`);
    const path = method.path;
    const fail = (err: unknown) => {
      hooks.onError?.(path, err);
      return statusOf(err);
    };
    if (h.kind === 'unary') {
      impl[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const ctx = contextOf(path, call);
        const t0 = performance.now();
        Promise.resolve()
          .then(() => h.fn(call.request, ctx))
          .then((res) => cb(null, res), (err: unknown) => cb(fail(err)))
          .finally(() => hooks.onDone?.(path, performance.now() - t0));
      }) as grpc.handleUnaryCall<unknown, unknown>;
    } else if (h.kind === 'serverStream') {
      impl[name] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
        const ctx = contextOf(path, call);
        const t0 = performance.now();
        Promise.resolve()
          .then(() => h.fn(call.request, ctx, (msg) => writeWithBackpressure(call, msg)))
          .then(() => call.end(), (err: unknown) => {
            if (!call.cancelled) call.emit('error', fail(err));
          })
          .finally(() => hooks.onDone?.(path, performance.now() - t0));
      }) as grpc.handleServerStreamingCall<unknown, unknown>;
    } else {
      impl[name] = ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
        const ctx = contextOf(path, call);
        Promise.resolve()
          .then(() => h.fn(call, ctx))
          .then(() => call.end(), (err: unknown) => {
            if (!call.cancelled) call.emit('error', fail(err));
          });
      }) as grpc.handleBidiStreamingCall<unknown, unknown>;
    }
  }
  server.addService(def, impl);
}
