import type { BerthError } from './errors.ts';
import { codeOf, errorFromCode, type ErrorCode } from './errors.ts';

/** gRPC status codes (numbers as on the wire; containerd's errdefs mapping). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const grpcByCode: Record<ErrorCode, number> = {
  not_found: GrpcStatus.NOT_FOUND,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  // containerd 1.6 has no conflict class; a clash is a failed precondition there.
  conflict: GrpcStatus.FAILED_PRECONDITION,
  unavailable: GrpcStatus.UNAVAILABLE,
  unauthorized: GrpcStatus.UNAUTHENTICATED,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  not_implemented: GrpcStatus.UNIMPLEMENTED,
  canceled: GrpcStatus.CANCELLED,
  deadline_exceeded: GrpcStatus.DEADLINE_EXCEEDED,
  not_modified: GrpcStatus.FAILED_PRECONDITION,
  internal: GrpcStatus.UNKNOWN,
};

export function grpcCode(err: unknown): number {
  return grpcByCode[codeOf(err)];
}

/** A `ServiceError`-shaped object for @grpc/grpc-js callbacks: `callback(toGrpcError(err))`. */
export function toGrpcError(err: unknown): { code: number; details: string; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  return { code: grpcCode(err), details: message, message };
}

/** A gRPC status (as a client sees it) back to a typed error. */
export function fromGrpc(code: number, details: string): BerthError {
  const byStatus: Record<number, ErrorCode> = {
    [GrpcStatus.NOT_FOUND]: 'not_found',
    [GrpcStatus.ALREADY_EXISTS]: 'already_exists',
    [GrpcStatus.INVALID_ARGUMENT]: 'invalid_argument',
    [GrpcStatus.FAILED_PRECONDITION]: 'failed_precondition',
    [GrpcStatus.UNAVAILABLE]: 'unavailable',
    [GrpcStatus.UNAUTHENTICATED]: 'unauthorized',
    [GrpcStatus.PERMISSION_DENIED]: 'permission_denied',
    [GrpcStatus.RESOURCE_EXHAUSTED]: 'resource_exhausted',
    [GrpcStatus.UNIMPLEMENTED]: 'not_implemented',
    [GrpcStatus.CANCELLED]: 'canceled',
    [GrpcStatus.DEADLINE_EXCEEDED]: 'deadline_exceeded',
  };
  return errorFromCode(byStatus[code] ?? 'internal', details);
}
