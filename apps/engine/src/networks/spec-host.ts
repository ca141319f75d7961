// Test support for the networks and volumes extensions (not used by berthd): a fastify app with the engine's
// error mapping and version handling, and an extension host whose containers the test makes up.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { NotFoundError } from '@berth/errdefs';
import { errorHandler, notFoundHandler } from '../api/errors.ts';
import { stripVersion } from '../api/version.ts';
import { DEFAULTS, type DaemonConfig } from '../config.ts';
import type { ContainerView, ExtensionHost } from '../extensions.ts';
import { EventBus } from '../system/events.ts';

export interface FakeHost extends ExtensionHost {
  views: Map<string, ContainerView>;
  /** A container view with a directory of its own under the data root. */
  make(name: string, extra?: Partial<ContainerView>): ContainerView;
}

export function fakeHost(config: Partial<DaemonConfig>): FakeHost {
  const views = new Map<string, ContainerView>();
  const cfg: DaemonConfig = { ...DEFAULTS, ...config };
  const host: FakeHost = {
    config: cfg,
    log: pino({ level: process.env.BERTH_TEST_LOG ?? 'silent' }),
    events: new EventBus(),
    views,
    containers: () => [...views.values()],
    container(ref: string) {
      const v = views.get(ref) ?? [...views.values()].find((x) => x.name === ref.replace(/^\//, '') || x.id.startsWith(ref));
      if (!v) throw new NotFoundError(`No such container: ${ref}`);
      return v;
    },
    make(name, extra = {}) {
      const id = [...Array(4)].map(() => Math.random().toString(16).slice(2, 18).padEnd(16, '0')).join('');
      const dir = path.join(cfg.dataRoot, 'containers', id);
      mkdirSync(dir, { recursive: true });
      const v: ContainerView = {
        id, name, config: {} as ContainerView['config'], hostConfig: {} as ContainerView['hostConfig'], endpointsConfig: {}, dir, pid: 0, running: false, ...extra,
      };
      views.set(id, v);
      return v;
    },
  };
  return host;
}

/** The engine's HTTP conventions around a set of routes (bodies arrive as streams, as in berthd). */
export async function testApp(register: (app: FastifyInstance) => void | Promise<void>): Promise<FastifyInstance> {
  const app = Fastify({ rewriteUrl: (req) => stripVersion(req) });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await register(app);
  await app.ready();
  return app;
}
