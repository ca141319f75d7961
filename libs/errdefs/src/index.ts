export * from './errors.ts';
export { httpStatus, httpBody, fromHttp } from './http.ts';
export { GrpcStatus, grpcCode, toGrpcError, fromGrpc } from './grpc.ts';
export { ExitCode, exitCodeOf } from './exit.ts';
