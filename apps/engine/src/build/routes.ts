/**
 * `POST /build`: the classic builder's endpoint (what the docker CLI without buildx, `berth build`, dockerode and
 * docker-py use). The tar context (plain or gzip) is unpacked, the Dockerfile read and parsed, and the plan
 * checked before anything is streamed — so those errors are HTTP errors with Docker's `{"message"}` — then the
 * build streams Docker's JSON lines (`{"stream"}`, pull progress, `{"aux":{"ID"}}`, `{"errorDetail",…}`).
 * A client that goes away cancels the build; whatever it had started is removed.
 */
import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  BuildContext, errorMessage, parseDockerfileInstructions, planBuild, runBuild, DockerfileSyntaxError, type BuildOptions, type BuildTag,
  type JsonMessage,
} from '@berth/builder';
import { InvalidArgumentError, NotImplementedError } from '@berth/errdefs';
import { familiarString, formatReference, parseNormalizedReference, withDefaultTag } from '@berth/oci';
import { bodyStream, qbool, qint, qs, queryOf, type Query } from '../api/query.ts';
import type { Engine } from '../engine.ts';
import { cleanupBuilds } from './cleanup.ts';
import { RuntimedBuildBackend, type RunResources } from './runtimed-backend.ts';
import { StepCache } from './step-cache.ts';

function all(q: Query, name: string): string[] {
  const v = q[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function jsonParam<T>(q: Query, name: string): T | undefined {
  const v = qs(q, name);
  if (v === undefined || v === '') return undefined;
  try {
    return JSON.parse(v) as T;
  } catch (err) {
    throw new InvalidArgumentError(`invalid ${name}: ${(err as Error).message}`);
  }
}

/** `-t` values → record names, with Docker's reference errors. */
function parseTags(tags: string[]): BuildTag[] {
  return tags.filter((t) => t !== '').map((t) => {
    let ref;
    try {
      ref = withDefaultTag(parseNormalizedReference(t));
    } catch (err) {
      throw new InvalidArgumentError(`invalid reference format: ${(err as Error).message.replace(/^invalid reference format:? ?/, '') || t}`.replace(/: $/, ''));
    }
    if (ref.digest) throw new InvalidArgumentError(`invalid reference format: ${t}: a tag cannot carry a digest`);
    return { name: formatReference(ref), display: familiarString(ref) };
  });
}

/** `X-Registry-Config`: base64 JSON of registry → auth config. */
function registryConfig(request: FastifyRequest): Record<string, Record<string, string>> {
  const h = request.headers['x-registry-config'];
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return {};
  try {
    const parsed = JSON.parse(Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? parsed as Record<string, Record<string, string>> : {};
  } catch {
    return {};
  }
}

function runResources(q: Query, engine: Engine): RunResources {
  const hc: RunResources['hostConfig'] = {};
  const mem = qint(q, 'memory');
  const swap = qint(q, 'memswap');
  const shm = qint(q, 'shmsize');
  if (mem) hc.Memory = mem;
  if (swap) hc.MemorySwap = swap;
  if (shm) hc.ShmSize = shm;
  const shares = qint(q, 'cpushares');
  const period = qint(q, 'cpuperiod');
  const quota = qint(q, 'cpuquota');
  if (shares) hc.CpuShares = shares;
  if (period) hc.CpuPeriod = period;
  if (quota) hc.CpuQuota = quota;
  if (qs(q, 'cpusetcpus')) hc.CpusetCpus = qs(q, 'cpusetcpus')!;
  if (qs(q, 'cpusetmems')) hc.CpusetMems = qs(q, 'cpusetmems')!;
  hc.CgroupParent = qs(q, 'cgroupparent') || engine.config.cgroupParent;
  const ulimits = jsonParam<{ Name: string; Soft: number; Hard: number }[]>(q, 'ulimits');
  if (ulimits) hc.Ulimits = ulimits;
  let extraHosts = jsonParam<string[]>(q, 'extrahosts') ?? [];
  if (!Array.isArray(extraHosts)) extraHosts = [];
  // The CLI sends extrahosts as a comma-separated string in older versions.
  if (extraHosts.length === 0 && qs(q, 'extrahosts') && !qs(q, 'extrahosts')!.startsWith('[')) extraHosts = qs(q, 'extrahosts')!.split(',');
  return { hostConfig: hc, extraHosts };
}

export function buildRoutes(app: FastifyInstance, engine: Engine): void {
  let cache: StepCache | undefined;
  const stepCache = () => (cache ??= new StepCache(path.join(engine.config.dataRoot, 'builder', 'cache'), engine.rt, engine.snapshotter));
  const running = new Set<AbortController>();
  // Leftovers of builds a previous berthd did not finish go first; builds wait for that.
  const ready = (async () => cleanupBuilds({
    rt: engine.rt, dataRoot: engine.config.dataRoot, execRoot: engine.config.execRoot, snapshotter: engine.snapshotter, log: engine.log,
  }))().catch((err: unknown) => engine.log?.warn({ err }, 'cleaning up after interrupted builds failed'));
  app.addHook('onClose', async () => {
    for (const c of running) c.abort(new Error('the daemon is shutting down'));
  });

  app.post('/build', async (request, reply) => {
    const q = queryOf(request);
    const version = qs(q, 'version') ?? '1';
    if (version === '2') throw new NotImplementedError('BuildKit (builder version 2) is not supported by this daemon; use the classic builder (DOCKER_BUILDKIT=0)');
    if (qs(q, 'remote')) throw new NotImplementedError('remote build contexts are not supported; send the context as a tar');
    if (qbool(q, 'squash')) throw new InvalidArgumentError('squash is only supported with experimental mode');
    const platform = qs(q, 'platform');
    if (platform && !/^linux(\/amd64(\/v[1-4])?)?$/.test(platform)) {
      throw new InvalidArgumentError(`"${platform}": unsupported platform: only linux/amd64 can be built here`);
    }
    const tags = parseTags(all(q, 't'));
    const buildArgsRaw = jsonParam<Record<string, string | null>>(q, 'buildargs') ?? {};
    const labels = jsonParam<Record<string, string>>(q, 'labels') ?? {};
    const body = bodyStream(request);
    if (!body) throw new InvalidArgumentError('the build context (a tar) is missing from the request body');
    const networkMode = qs(q, 'networkmode') || 'default';
    if (!['default', 'bridge', 'host', 'none'].includes(networkMode)) {
      throw new InvalidArgumentError(`network mode ${JSON.stringify(networkMode)} is not supported for builds (use default, host or none)`);
    }
    const options: BuildOptions = {
      tags,
      ...(qs(q, 'target') ? { target: qs(q, 'target')! } : {}),
      buildArgs: new Map(Object.entries(buildArgsRaw).map(([k, v]) => [k, v ?? undefined])),
      labels,
      noCache: qbool(q, 'nocache'),
      pull: qbool(q, 'pull'),
      quiet: qbool(q, 'q'),
      ...(platform ? { platform } : {}),
      network: networkMode === 'bridge' ? 'default' : networkMode,
    };

    await ready;
    const log = request.log.child({ build: true });
    const t0 = performance.now();
    const lap = (phase: string) => log.debug({ phase, ms: Math.round(performance.now() - t0) }, 'build phase');
    const backend = RuntimedBuildBackend.create({
      rt: engine.rt, images: engine.images, config: engine.config, log, snapshotter: engine.snapshotter,
      cgroupV2: engine.host.cgroupVersion === '2', cache: stepCache(), registryConfig: registryConfig(request),
    }, runResources(q, engine));
    const controller = new AbortController();
    running.add(controller);
    let finished = false;
    reply.raw.on('close', () => {
      if (!finished) controller.abort(new Error('the client went away'));
    });
    let context: BuildContext | undefined;
    try {
      lap('lease');
      context = await BuildContext.fromTar(body, backend.contextDir(), controller.signal);
      lap('context');
      const dockerfileName = qs(q, 'dockerfile') || 'Dockerfile';
      const df = context.readDockerfile(dockerfileName);
      let parsed;
      try {
        parsed = parseDockerfileInstructions(df.content);
      } catch (err) {
        if (err instanceof DockerfileSyntaxError) throw new InvalidArgumentError(`failed to parse ${dockerfileName}: ${err.message}`);
        throw err;
      }
      const plan = planBuild(parsed, options);
      lap('parse');

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': String(reply.getHeader('Api-Version') ?? '') });
      const emit = (m: JsonMessage) => {
        if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(m)}\r\n`);
      };
      for (const w of parsed.warnings) emit({ stream: `[WARNING]: ${w}\n` });
      try {
        const r = await runBuild(backend, context, plan, options, emit, controller.signal);
        lap('build');
        log.info({ imageId: r.id, tags: tags.map((t) => t.display) }, 'build finished');
        for (const t of tags) engine.events.emit('image', 'tag', r.id, { name: t.display });
      } catch (err) {
        log.debug({ err }, 'build failed');
        emit(errorMessage(err));
      }
      finished = true;
      res.end();
    } finally {
      finished = true;
      running.delete(controller);
      context?.remove();
      await backend.close();
      lap('closed');
    }
  });
}
