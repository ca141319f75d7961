import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConflictError, FailedPreconditionError, GrpcStatus, InternalError, NotFoundError, codeOf, fromGrpc, fromHttp,
  grpcCode, httpBody, httpStatus, isNotFound, toGrpcError, wrap,
} from './index.ts';

describe('errdefs', () => {
  it('maps each class once to HTTP and gRPC', () => {
    const notFound = new NotFoundError('No such container: x');
    assert.equal(httpStatus(notFound), 404);
    assert.deepEqual(httpBody(notFound), { message: 'No such container: x' });
    assert.equal(grpcCode(notFound), GrpcStatus.NOT_FOUND);
    assert.equal(httpStatus(new ConflictError('in use')), 409);
    assert.equal(grpcCode(new FailedPreconditionError('not running')), GrpcStatus.FAILED_PRECONDITION);
    assert.equal(httpStatus(new Error('boom')), 500);
  });

  it('wrap keeps the class and adds context', () => {
    const err = wrap(new NotFoundError('manifest unknown'), 'pull 127.0.0.1:5000/library/busybox:latest');
    assert.ok(err instanceof NotFoundError);
    assert.equal(err.message, 'pull 127.0.0.1:5000/library/busybox:latest: manifest unknown');
    assert.ok(err.cause instanceof NotFoundError);
  });

  it('classifies Node system errors by errno', () => {
    const enoent = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    assert.equal(codeOf(enoent), 'not_found');
    assert.ok(isNotFound(enoent));
    assert.equal(codeOf('a string'), 'internal');
  });

  it('round-trips through the wire forms', () => {
    const g = toGrpcError(new NotFoundError('container t1: not found'));
    const back = fromGrpc(g.code, g.details);
    assert.ok(back instanceof NotFoundError);
    assert.equal(back.message, 'container t1: not found');
    assert.ok(fromHttp(409, 'Conflict.') instanceof ConflictError);
    assert.ok(fromGrpc(99, 'weird') instanceof InternalError);
  });
});
