/**
 * Long work as BullMQ jobs on Redis: image pull and push, and scheduled garbage collection. Each runtimed has
 * its own queue (prefix `berth:<server uuid>`), so several hosts can share one Redis. A job's id is derived
 * from what it does, so concurrent requests for the same pull join one job; callers follow it through
 * QueueEvents (progress, completed, failed). Errors cross Redis as `[code] message` and become errdefs classes again.
 */
import { Job, Queue, QueueEvents, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { codeOf, errorFromCode } from '@berth/errdefs';

export type JobKind = 'pull' | 'push' | 'gc';

/** One progress update as the worker reports it (the pull service adds the job id). */
export interface JobProgress { id: string; status: string; current: number; total: number }

export type JobHandler =
  (data: Record<string, unknown>, report: (p: JobProgress) => Promise<void>, log: Logger, jobId: string) => Promise<unknown>;

const QUEUE = 'runtimed';
/** Transient failures (registry down, connection reset) are retried; the rest fail at once. */
const RETRYABLE = new Set(['unavailable', 'deadline_exceeded']);

function encodeError(err: unknown): Error {
  const code = codeOf(err);
  const message = `[${code}] ${err instanceof Error ? err.message : String(err)}`;
  return RETRYABLE.has(code) ? new Error(message) : new UnrecoverableError(message);
}

export function decodeError(reason: string): Error {
  const m = /^\[([a-z_]+)\] ([\s\S]*)$/.exec(reason);
  return m ? errorFromCode(m[1]!, m[2]!) : errorFromCode('internal', reason);
}

export class JobQueue {
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly worker: Worker;
  private readonly log: Logger;

  private constructor(queue: Queue, events: QueueEvents, worker: Worker, log: Logger) {
    this.queue = queue;
    this.events = events;
    this.worker = worker;
    this.log = log;
  }

  static async start(redis: RedisOptions, uuid: string, log: Logger, handlers: Record<JobKind, JobHandler>): Promise<JobQueue> {
    // ioredis 6's option type and bullmq's declared one differ only in shape details; the values are ioredis options.
    const connection = { ...redis, maxRetriesPerRequest: null } as unknown as ConnectionOptions;
    const prefix = `berth:${uuid}`;
    const queue = new Queue(QUEUE, { connection, prefix });
    const events = new QueueEvents(QUEUE, { connection, prefix });
    const worker = new Worker(QUEUE, async (job: Job) => {
      const handler = handlers[job.name as JobKind];
      const jlog = log.child({ jobId: job.id, job: job.name });
      if (!handler) throw new UnrecoverableError(`[invalid_argument] unknown job kind ${job.name}`);
      try {
        return await handler(job.data as Record<string, unknown>, (p) => job.updateProgress(p as unknown as object), jlog, job.id ?? '');
      } catch (err) {
        jlog.debug({ err }, 'job failed');
        throw encodeError(err);
      }
    }, { connection, prefix, concurrency: 4 });
    worker.on('error', (err) => log.error({ err }, 'job worker error'));
    queue.on('error', (err) => log.error({ err }, 'job queue error'));
    events.on('error', (err) => log.error({ err }, 'job events error'));
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
    return new JobQueue(queue, events, worker, log);
  }

  /**
   * Runs (or joins) the job `<kind>-<key>` and follows it to the end. `onProgress` sees every update of
   * that job, also those of requests that joined it. Resolves to the handler's result.
   */
  async run(
    kind: JobKind, key: string, data: Record<string, unknown>, onProgress: (p: JobProgress, jobId: string) => void,
  ): Promise<unknown> {
    const jobId = `${kind}-${key}`;
    const onEvent = ({ jobId: id, data: p }: { jobId: string; data: unknown }) => {
      if (id === jobId && p && typeof p === 'object') onProgress(p as JobProgress, jobId);
    };
    this.events.on('progress', onEvent);
    try {
      let job = await Job.fromId(this.queue, jobId);
      if (job) {
        const state = await job.getState();
        if (state === 'completed' || state === 'failed' || state === 'unknown') {
          await job.remove().catch(() => {});
          job = undefined;
        }
      }
      job ??= await this.queue.add(kind, data, {
        jobId, attempts: 3, backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: { age: 300 }, removeOnFail: { age: 300 },
      });
      try {
        return await job.waitUntilFinished(this.events);
      } catch (err) {
        throw decodeError(err instanceof Error ? err.message : String(err));
      }
    } finally {
      this.events.off('progress', onEvent);
    }
  }

  /** Queues a garbage collection job after `delayMs` (the collector coalesces requests; every call is one job). */
  async scheduleGc(delayMs: number): Promise<void> {
    await this.queue.add('gc', {}, { delay: delayMs, removeOnComplete: true, removeOnFail: true });
  }

  async close(): Promise<void> {
    await this.worker.close();
    await Promise.all([this.events.close(), this.queue.close()]);
  }
}
