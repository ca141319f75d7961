/**
 * berth.jobs.v1: Pull and Push run as queue jobs and stream their progress; GC/Collect runs a collection now.
 * Credentials never go into Redis: they stay in this process, keyed by job id, for the worker to pick up.
 */
import { createHash } from 'node:crypto';
import {
  addService, serverStream, unary,
  type GrpcServer, type JobResult, type Progress, type PullRequest, type PushRequest, type RegistryAuth, type ServerHooks,
} from '@berth/containerd-api';
import { InvalidArgumentError } from '@berth/errdefs';
import type { AuthConfig } from '@berth/distribution';
import type { Context } from '../context.ts';
import type { JobQueue } from '../jobs/queue.ts';

/** Credentials of queued jobs, by job id (in memory only). */
export class JobSecrets {
  private readonly byJob = new Map<string, AuthConfig>();

  set(jobId: string, auth: AuthConfig | undefined): void {
    if (auth) this.byJob.set(jobId, auth);
  }

  get(jobId: string): AuthConfig | undefined {
    return this.byJob.get(jobId);
  }

  delete(jobId: string): void {
    this.byJob.delete(jobId);
  }
}

/** The wire's RegistryAuth as distribution's AuthConfig (Docker's field names); undefined when empty. */
export function toAuthConfig(a: RegistryAuth | null | undefined): AuthConfig | undefined {
  if (!a) return undefined;
  const out: AuthConfig = {};
  if (a.username) out.username = a.username;
  if (a.password) out.password = a.password;
  if (a.identityToken) out.identitytoken = a.identityToken;
  if (a.registryToken) out.registrytoken = a.registryToken;
  if (a.serverAddress) out.serveraddress = a.serverAddress;
  return Object.keys(out).length > 0 ? out : undefined;
}

const keyOf = (parts: unknown[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);

export function addJobServices(
  server: GrpcServer, ctx: Context, jobs: () => Promise<JobQueue>, secrets: JobSecrets, hooks: ServerHooks,
): void {
  const follow = async (kind: 'pull' | 'push', key: string, data: Record<string, unknown>, auth: AuthConfig | undefined,
    send: (p: Progress) => Promise<void>) => {
    const jobId = `${kind}-${key}`;
    secrets.set(jobId, auth);
    let sending = Promise.resolve();
    try {
      const result = await (await jobs()).run(kind, key, data, (p) => {
        sending = sending.then(() => send({ jobId, id: p.id, status: p.status, current: p.current, total: p.total, result: null }));
      }) as JobResult;
      await sending;
      await send({ jobId, id: '', status: '', current: 0, total: 0, result });
    } finally {
      secrets.delete(jobId);
    }
  };
  addService(server, 'berth.jobs.v1.Pull', {
    Pull: serverStream(async (req: PullRequest, call, send) => {
      const ns = call.namespace();
      if (!req.ref) throw new InvalidArgumentError('pull: reference must not be empty');
      const data = {
        namespace: ns, ref: req.ref, platform: req.platform, snapshotter: req.snapshotter || ctx.config.snapshotter,
        skipUnpack: req.skipUnpack, name: req.name, labels: req.labels ?? {},
        insecureRegistries: req.insecureRegistries ?? [], mirrors: req.mirrors ?? [],
      };
      const auth = toAuthConfig(req.auth);
      // Same image, same options (and same credentials) → same job: concurrent pulls share it.
      await follow('pull', keyOf([data, auth ?? null]), data, auth, send);
    }),
  }, hooks);
  addService(server, 'berth.jobs.v1.Push', {
    Push: serverStream(async (req: PushRequest, call, send) => {
      const ns = call.namespace();
      if (!req.name) throw new InvalidArgumentError('push: image name must not be empty');
      ctx.images.get(ns, req.name);
      const data = {
        namespace: ns, name: req.name, ref: req.ref, platform: req.platform, insecureRegistries: req.insecureRegistries ?? [],
      };
      const auth = toAuthConfig(req.auth);
      await follow('push', keyOf([data, auth ?? null, Date.now()]), data, auth, send);
    }),
  }, hooks);
  addService(server, 'berth.jobs.v1.GC', {
    Collect: unary(async () => ctx.gc.collect()),
  }, hooks);
}
