/**
 * Typed helpers for serving containerd's services (on ./grpc-server.ts): the namespace and lease of a call
 * (containerd's `containerd-namespace` / `containerd-lease` metadata), handlers that turn thrown errors into
 * containerd's gRPC codes once (sent trailers-only when nothing was written yet), and streaming with
 * back-pressure.
 */
import type * as grpc from '@grpc/grpc-js';
import { FailedPreconditionError, GrpcStatus, InvalidArgumentError, toGrpcError } from '@berth/errdefs';
import { GrpcServer, type CallStatus, type GrpcCall } from './grpc-server.ts';
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
  /** The first value of a request metadata key (lower case), if sent. */
  metadata(key: string): string | undefined;
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

function contextOf(method: string, call: GrpcCall): CallContext {
  // The AbortController is made only for handlers that read `signal`: clients cancel most calls once they have
  // their answer (ctr does), and aborting builds a DOMException with a stack trace each time.
  let ac: AbortController | undefined;
  let cancelled = false;
  call.onCancel(() => {
    cancelled = true;
    ac?.abort();
  });
  return {
    method,
    metadata: (key) => call.metadata(key),
    lease: call.metadata(LEASE_METADATA) || undefined,
    get signal() {
      if (!ac) {
        ac = new AbortController();
        if (cancelled) ac.abort();
      }
      return ac.signal;
    },
    namespace() {
      const ns = call.metadata(NAMESPACE_METADATA);
      if (!ns) throw new FailedPreconditionError(`${method}: namespace is required`);
      return validateNamespace(ns);
    },
  };
}

function statusOf(err: unknown): CallStatus {
  const code = (err as { grpcCode?: number }).grpcCode;
  if (code !== undefined) return { code, details: (err as Error).message };
  const g = toGrpcError(err);
  return { code: g.code, details: g.details };
}

export type UnaryHandler<Req, Res> = (req: Req, ctx: CallContext) => Promise<Res> | Res;
export type ServerStreamHandler<Req, Res> = (req: Req, ctx: CallContext, send: (msg: Res) => Promise<void>) => Promise<void>;
export type BidiHandler<Req, Res> = (call: BidiCall<Req, Res>, ctx: CallContext) => Promise<void>;

/** A bidi call as its handler sees it: the request messages, and a write that says when to wait. */
export interface BidiCall<Req, Res> {
  /** The request messages in order; leaving the loop early does not end the call. */
  messages(): AsyncIterable<Req>;
  /** Writes one response message and waits while the transport's buffer is full. */
  send(msg: Res): Promise<void>;
}

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

/** Writes one message and waits while the transport's buffer is full; rejects once the client has gone. */
function send(call: GrpcCall, msg: unknown): Promise<void> {
  if (call.cancelled) return Promise.reject(Object.assign(new Error('call cancelled by the client'), { code: 'ABORT_ERR' }));
  if (call.write(msg)) return Promise.resolve();
  return call.waitDrain();
}

/** A loaded service's method definitions by name (`containerd.services.tasks.v1.Tasks`), as @grpc/proto-loader builds them. */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  const def = grpcPackageDefinition()[fullName];
  // Message definitions carry a `format`; service definitions are maps of methods.
  if (def && !('format' in def)) return def as unknown as grpc.ServiceDefinition;
  throw new Error(`service ${fullName} is not in the loaded protos`);
}

/** A server with containerd's message size limit. */
export function createServer(): GrpcServer {
  return new GrpcServer({ maxMessageBytes: MAX_MESSAGE_BYTES });
}

/**
 * Registers a service on a server. Methods without a handler answer UNIMPLEMENTED, so a partial service is
 * visible as such to clients.
 */
export function addService(server: GrpcServer, fullName: string, handlers: ServiceHandlers, hooks: ServerHooks = {}): void {
  const def = serviceDefinition(fullName);
  for (const [name, h] of Object.entries(handlers)) {
    const method = def[name];
    if (!method) throw new Error(`service ${fullName} has no method ${name}`);
    const path = method.path;
    const fail = (call: GrpcCall, err: unknown) => {
      hooks.onError?.(path, err);
      call.fail(statusOf(err));
    };
    const run = (call: GrpcCall, body: () => Promise<void>) => {
      const t0 = performance.now();
      body()
        .then(() => call.finish(), (err: unknown) => {
          if (!call.cancelled) fail(call, err);
        })
        .catch((err: unknown) => hooks.onError?.(path, err)) // the answer itself failed (a bug): never unhandled
        .finally(() => hooks.onDone?.(path, performance.now() - t0));
    };
    // Unary and server streaming: the handler runs once the one request message has arrived.
    const withRequest = (call: GrpcCall, then: (req: unknown) => void) => {
      call.onRequests((messages) => {
        if (messages.length === 1) then(messages[0]);
        else call.fail({ code: GrpcStatus.UNIMPLEMENTED, details: `${path}: expected one request message, got ${messages.length}` });
      });
    };
    let handle: (call: GrpcCall) => void;
    if (h.kind === 'unary') {
      handle = (call) => withRequest(call, (req) => run(call, async () => {
        const res = await h.fn(req, contextOf(path, call));
        call.write(res);
      }));
    } else if (h.kind === 'serverStream') {
      handle = (call) => withRequest(call, (req) => run(call, () => h.fn(req, contextOf(path, call), (msg) => send(call, msg))));
    } else {
      handle = (call) => run(call, () => h.fn({
        messages: () => call.requests!.iterator({ destroyOnReturn: false }) as AsyncIterable<unknown>,
        send: (msg) => send(call, msg),
      }, contextOf(path, call)));
    }
    server.register(path, {
      requestStream: method.requestStream,
      responseStream: method.responseStream,
      deserialize: (d) => method.requestDeserialize(d) as unknown,
      serialize: (m) => method.responseSerialize(m),
      handle,
    });
  }
}
