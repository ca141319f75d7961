/**
 * Docker's JSON progress stream (pull, push, load, import, build): one JSON message per line. Runtimed's job
 * progress is turned into Docker's messages here; the first message decides whether the response can still be
 * an HTTP error (nothing sent yet) or must carry the error in the stream.
 */
import type { FastifyReply } from 'fastify';
import type { JSONMessage } from '@berth/docker-api';
import type { Progress } from '@berth/containerd-api';

export interface ProgressSink {
  write(m: JSONMessage): void;
  /** The response has started (errors must now go in the stream). */
  readonly started: boolean;
}

/** A sink that starts the 200 response on the first message. */
export function replySink(reply: FastifyReply): ProgressSink & { end(): void } {
  let started = false;
  const res = reply.raw;
  return {
    get started() {
      return started;
    },
    write(m) {
      if (!started) {
        started = true;
        reply.hijack();
        res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': reply.getHeader('Api-Version') as string ?? '' });
      }
      if (!res.writableEnded) res.write(JSON.stringify(m) + '\r\n');
    },
    end() {
      if (started && !res.writableEnded) res.end();
    },
  };
}

const units = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Docker's HumanSize (decimal, 3 significant digits). */
export function humanSize(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** The progress bar text Docker's daemon sends beside `progressDetail`. */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return humanSize(current);
  const width = 50;
  const filled = Math.min(width, Math.floor((current / total) * width));
  const bar = `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}]`;
  return `${bar} ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/** One runtimed progress update as Docker's message. */
export function progressMessage(p: Progress): JSONMessage {
  const withBytes = p.total > 0 && (p.status === 'Downloading' || p.status === 'Extracting' || p.status === 'Pushing');
  const m: JSONMessage = { status: p.status, progressDetail: withBytes ? { current: p.current, total: p.total } : {} };
  if (withBytes) m.progress = progressBar(p.current, p.total);
  if (p.id) m.id = p.id;
  return m;
}

/** An error as the last message of a stream. */
export function errorMessage(err: unknown): JSONMessage {
  const message = err instanceof Error ? err.message : String(err);
  return { errorDetail: { message }, error: message };
}
