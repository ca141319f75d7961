/**
 * Applying a layer on a worker thread, so decompression (a pull hands over the blob's bytes as stored), tar
 * parsing and the file syscalls of one layer run beside the main thread's downloads (HTTP, hashing, ingest
 * writes) instead of taking turns with them.
 *
 * Protocol (main ⇄ worker, per job id):
 *   main → start {mounts, opts}            worker creates a Readable and runs applyLayerToMounts on it
 *   worker → read                          one credit: the worker's stream wants a chunk
 *   main → chunk {ArrayBuffer} | end       one chunk per credit (transferred, not copied twice); end of data
 *   main → abort {message}                 the source failed: the worker's stream errors, the apply fails
 *   worker → done {result} | error {code}  the apply's outcome; errors keep their errdefs code
 * Workers are pooled, reused, and unref'd while idle so they never keep a process alive.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { errorFromCode } from '@berth/errdefs';
import { LowerLayersNeededError, applyLayerToMounts, type ApplyOptions, type ApplyResult, type Mount } from '@berth/layer-store';

export type WorkerApplyOptions = Omit<ApplyOptions, 'signal' | 'onProgress' | 'whiteouts' | 'lowerDirs'>;

type FromWorker =
  | { type: 'read'; id: number }
  | { type: 'done'; id: number; result: ApplyResult }
  | { type: 'error'; id: number; error: { code: string; name?: string; message: string; lowerLayersNeeded?: boolean } };

interface Job {
  it: AsyncIterator<Buffer>;
  credits: number;
  pumping: boolean;
  finished: boolean;
  resolve(r: ApplyResult): void;
  reject(err: Error): void;
}

const idle: Worker[] = [];
const jobs = new Map<number, { worker: Worker; job: Job }>();
let nextId = 1;

/**
 * The worker's script: apply-worker.ts beside this file when running from source; in an app bundle (esbuild,
 * where this code may sit in `dist/chunks/`), the app's `apply-worker` entry (`dist/apply-worker.js`, see
 * `berth.entries` in apps/runtimed/package.json). Undefined when neither exists: layers are then applied on
 * this thread.
 */
const workerScript: URL | undefined = ['./apply-worker.ts', './apply-worker.js', '../apply-worker.js']
  .map((p) => new URL(p, import.meta.url))
  .find((u) => existsSync(u));

function spawnWorker(): Worker {
  const w = new Worker(workerScript!);
  w.on('message', (m: FromWorker) => onMessage(w, m));
  w.on('error', (err) => failWorker(w, err));
  w.on('exit', (code) => failWorker(w, new Error(`layer apply worker exited with code ${code}`)));
  return w;
}

function failWorker(w: Worker, err: Error): void {
  const i = idle.indexOf(w);
  if (i >= 0) idle.splice(i, 1);
  for (const [id, j] of jobs) {
    if (j.worker !== w) continue;
    jobs.delete(id);
    j.job.reject(err);
  }
}

function release(w: Worker): void {
  if ([...jobs.values()].some((j) => j.worker === w)) return;
  w.unref();
  if (idle.length < availableParallelism()) idle.push(w);
  else void w.terminate();
}

async function pump(w: Worker, id: number, job: Job): Promise<void> {
  if (job.pumping) return;
  job.pumping = true;
  try {
    while (job.credits > 0 && !job.finished) {
      job.credits--;
      let r: IteratorResult<Buffer>;
      try {
        r = await job.it.next();
      } catch (err) {
        job.finished = true;
        w.postMessage({ type: 'abort', id, message: (err as Error)?.message ?? String(err) });
        return;
      }
      if (r.done) {
        job.finished = true;
        w.postMessage({ type: 'end', id });
        return;
      }
      // A private copy whose memory can be handed over (stream chunks often share a pooled buffer).
      const copy = new Uint8Array(r.value.length);
      copy.set(r.value);
      w.postMessage({ type: 'chunk', id, data: copy.buffer }, [copy.buffer]);
    }
  } finally {
    job.pumping = false;
  }
  if (job.credits > 0 && !job.finished) void pump(w, id, job);
}

function onMessage(w: Worker, m: FromWorker): void {
  const entry = jobs.get(m.id);
  if (!entry) return;
  const { job } = entry;
  if (m.type === 'read') {
    job.credits++;
    void pump(w, m.id, job);
    return;
  }
  jobs.delete(m.id);
  release(w);
  if (m.type === 'done') {
    job.resolve(m.result);
    return;
  }
  // Stop reading the source, as a failed applyLayer on this thread does (it destroys its input).
  if (!job.finished) {
    job.finished = true;
    void job.it.return?.()?.catch(() => {});
  }
  job.reject(m.error.lowerLayersNeeded ? new LowerLayersNeededError(m.error.message) : errorFromCode(m.error.code, m.error.message));
}

/**
 * `applyLayerToMounts(source, mounts, opts)` on a worker thread. The source is read on this thread (so it can
 * be any stream, e.g. a pull's decompressed layer) and handed over chunk by chunk with backpressure.
 */
export function applyLayerInWorker(
  source: Readable | AsyncIterable<Buffer>, mounts: Mount[], opts: WorkerApplyOptions = {},
): Promise<ApplyResult> {
  if (!workerScript) return applyLayerToMounts(source, mounts, opts);
  const w = idle.pop() ?? spawnWorker();
  w.ref();
  const id = nextId++;
  return new Promise<ApplyResult>((resolve, reject) => {
    const it = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const job: Job = { it, credits: 0, pumping: false, finished: false, resolve, reject };
    jobs.set(id, { worker: w, job });
    w.postMessage({ type: 'start', id, mounts, opts });
  });
}
