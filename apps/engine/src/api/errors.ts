/**
 * The one place errors become HTTP responses: @berth/errdefs classes map to Docker's statuses and every error
 * body is Docker's `{"message": …}`. Framework errors (bad content, bad URL) are client errors.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { httpBody, httpStatus, NotModifiedError } from '@berth/errdefs';

/** Status and body for any thrown value. */
export function errorResponse(err: unknown): { status: number; body: { message: string } } {
  const fe = err as Partial<FastifyError> | undefined;
  if (fe && typeof fe.code === 'string' && fe.code.startsWith('FST_') && typeof fe.statusCode === 'number') {
    return { status: fe.statusCode, body: { message: fe.message ?? 'bad request' } };
  }
  if (err instanceof SyntaxError) return { status: 400, body: { message: `invalid JSON: ${err.message}` } };
  return { status: httpStatus(err), body: httpBody(err) };
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = errorResponse(err);
  if (status >= 500) request.log.error({ err }, body.message);
  else request.log.debug({ status, message: body.message }, 'request failed');
  if (err instanceof NotModifiedError) {
    void reply.code(304).send();
    return;
  }
  if (reply.raw.headersSent) {
    // The response had started (a stream); all we can do is end it.
    reply.raw.destroy();
    return;
  }
  void reply.code(status).header('content-type', 'application/json').send(body);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  request.log.debug({ url: request.url, method: request.method }, 'no route');
  void reply.code(404).header('content-type', 'application/json').send({ message: 'page not found' });
}
