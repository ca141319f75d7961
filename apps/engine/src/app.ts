/**
 * `build(engine)`: the fastify application serving the Docker Engine API — separate from listening
 * (./listeners.ts), so tests can `inject()` requests. One route table serves versioned (`/v1.47/…`) and
 * unversioned paths; every response carries Docker's headers; errors go through one handler.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { errorHandler, notFoundHandler } from './api/errors.ts';
import { checkVersion, requestedVersion, stripVersion, API_VERSION } from './api/version.ts';
import { ENGINE_VERSION, type Engine } from './engine.ts';
import { containerRoutes } from './routes/containers.ts';
import { execRoutes } from './routes/exec.ts';
import { imageRoutes } from './routes/images.ts';
import { systemRoutes } from './routes/system.ts';
import { buildRoutes } from './build/routes.ts';

let reqCounter = 0;

export async function build(engine: Engine): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: engine.log,
    logController: new LogController({ disableRequestLogging: true }),
    rewriteUrl: (req) => stripVersion(req),
    routerOptions: { maxParamLength: 4096, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    // Bodies are streams handed to the routes (tar uploads are unbounded); JSON readers apply their own limit.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    genReqId: () => `r${(++reqCounter).toString(36)}`,
    return503OnClosing: false,
    forceCloseConnections: false,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('Api-Version', API_VERSION);
    reply.header('Docker-Experimental', String(engine.config.experimental));
    reply.header('Ostype', 'linux');
    reply.header('Server', `berth/${ENGINE_VERSION} (linux)`);
    checkVersion(requestedVersion(request.raw));
  });
  // Docker clients compare the error content type exactly ("application/json", no charset).
  app.addHook('onSend', async (_request, reply, payload) => {
    const ct = reply.getHeader('content-type');
    if (typeof ct === 'string' && ct.startsWith('application/json')) reply.header('content-type', 'application/json');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  await app.register(async (scope) => {
    systemRoutes(scope, engine);
    containerRoutes(scope, engine);
    execRoutes(scope, engine);
    imageRoutes(scope, engine);
    buildRoutes(scope, engine);
    for (const ext of engine.extensions) await ext.routes?.(scope);
  });
  return app;
}
