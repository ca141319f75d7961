/**
 * `POST /containers/{id}/attach`: output is the container's json-file log followed from now (or from the start
 * with `logs=1`) until its task ends; stdin goes into the container's stdin FIFO. Attaching before the start
 * (as `docker run` does) works: the follower waits for the log, and input written early waits in the FIFO.
 * Detach keys (default ctrl-p,ctrl-q) end the attachment without touching the container.
 */
import { readLogs, nowNs } from '@berth/container-logs';
import { InvalidArgumentError } from '@berth/errdefs';
import type { HijackedConn, HijackRequest } from '../api/hijack.ts';
import { qbool, qs } from '../api/query.ts';
import { encodeOutput, streamContentType } from '../api/stdcopy.ts';
import type { Engine } from '../engine.ts';
import type { Container } from './container.ts';

/** `ctrl-p,ctrl-q` → bytes. */
export function parseDetachKeys(spec: string | undefined): Buffer {
  const s = spec || 'ctrl-p,ctrl-q';
  const out: number[] = [];
  for (const k of s.split(',')) {
    const key = k.trim().toLowerCase();
    if (key.length === 1) out.push(key.charCodeAt(0));
    else if (/^ctrl-[a-z@[\\\]^_]$/.test(key)) {
      const ch = key.slice(5);
      out.push(ch === '@' ? 0 : ch.charCodeAt(0) >= 97 ? ch.charCodeAt(0) - 96 : ch.charCodeAt(0) - 64);
    } else throw new InvalidArgumentError(`Invalid detach keys (${s}) provided`);
  }
  return Buffer.from(out);
}

/** Scans input for the detach sequence across chunks; returns the bytes to forward and whether to detach. */
export class DetachScanner {
  private readonly keys: Buffer;
  private matched = 0;

  constructor(keys: Buffer) {
    this.keys = keys;
  }

  feed(chunk: Buffer): { data: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { data: Buffer.from(out), detach: true };
        continue;
      }
      if (this.matched > 0) {
        out.push(...this.keys.subarray(0, this.matched));
        this.matched = 0;
      }
      if (b === this.keys[0]) {
        this.matched = 1;
        continue;
      }
      out.push(b);
    }
    return { data: Buffer.from(out), detach: false };
  }
}

/** `raw`: output is never multiplexed (the websocket shape). */
export async function attachContainer(
  engine: Engine, req: HijackRequest, conn: HijackedConn, shape: { raw?: boolean } = {},
): Promise<void> {
  const c = engine.containers.get(req.params.id!);
  const q = req.query;
  const stream = qbool(q, 'stream');
  const logs = qbool(q, 'logs');
  const wantIn = qbool(q, 'stdin');
  const wantOut = qbool(q, 'stdout');
  const wantErr = qbool(q, 'stderr');
  if (!stream && !logs) throw new InvalidArgumentError('Bad parameters: you must choose at least one stream');
  const keys = parseDetachKeys(qs(q, 'detachKeys'));
  const tty = c.rec.Config.Tty === true;
  // From now: a running container's log is joined at its end (cheap whatever its size); for one not yet
  // running (`docker run` attaches before the start) every entry newer than now, so nothing written between
  // this answer and the start is missed.
  const fromEnd = !logs && c.hasTask;
  const since = logs || fromEnd ? undefined : nowNs();
  if (wantIn && c.rec.Config.OpenStdin && stream) await engine.containers.task.ensureStdin(c);

  const detached = new AbortController();
  const stop = AbortSignal.any([detached.signal, conn.signal]);
  const reading = wantOut || wantErr || stream;
  let positioned!: () => void;
  const started = new Promise<void>((resolve) => (positioned = resolve));
  const logOpts = {
    follow: stream,
    done: c.taskEnds,
    signal: stop,
    onStart: positioned,
    ...(since !== undefined ? { since } : {}),
    ...(fromEnd ? { tail: 0 } : {}),
  };
  const entries = reading ? readLogs(c.rec.LogPath, logOpts)[Symbol.asyncIterator]() : undefined;
  // The client may type as soon as it hears it is attached: the log is joined first, so the answer to what it
  // types is not written before the reader has fixed where it starts (it would be skipped as "before the end").
  const first = entries?.next();
  if (first) await Promise.race([started, first.then(() => {}, () => {})]);
  conn.begin(streamContentType(tty, req.apiVersion));
  engine.containers.emit(c, 'attach');
  const inputDone = wantIn && c.rec.Config.OpenStdin && conn.input && stream ? pumpStdin(engine, c, conn, keys, detached) : undefined;

  if (entries && first) {
    try {
      for (let r = await first; !r.done; r = await entries.next()) {
        const e = r.value;
        if (stop.aborted) break;
        if (e.stream === 'stdout' ? !wantOut : !wantErr) continue;
        await conn.write(encodeOutput(tty || shape.raw === true, e.stream === 'stdout' ? 1 : 2, e.log));
      }
    } catch (err) {
      if (!stop.aborted && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    } finally {
      await entries.return?.(undefined).catch(() => {});
    }
  }
  if (inputDone && !detached.signal.aborted && !stream) await inputDone;
}

async function pumpStdin(engine: Engine, c: Container, conn: HijackedConn, keys: Buffer, detached: AbortController): Promise<void> {
  const scanner = new DetachScanner(keys);
  const input = conn.input!;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      const { data, detach } = scanner.feed(chunk);
      if (data.length > 0) await c.stdin?.write(data);
      if (detach) {
        detached.abort();
        conn.end();
        return;
      }
    }
  } catch {
    return; // the client went away
  }
  // The client closed its stdin. With a TTY that only ends this attach (as dockerd does: a client that
  // detaches on its side closes its input, and the container's terminal must stay usable for the next attach);
  // without one, StdinOnce closes the container's stdin too (once its task holds it).
  if (c.rec.Config.Tty === true) {
    detached.abort();
    conn.end();
    return;
  }
  if (c.rec.Config.StdinOnce && c.stdin) {
    const pipe = c.stdin;
    await c.stdinConsumer;
    if (c.stdin === pipe) {
      await pipe.close();
      c.stdin = undefined;
      // The shim keeps its own writer on the FIFO; CloseIO drops it so the process sees EOF.
      await engine.rt.tasks.closeIO(c.id).catch(() => undefined);
    }
  }
}
