/** `GET /containers/{id}/logs`: the json-file log, multiplexed (or raw for a TTY), optionally followed. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatLogLine, parseTimestamp, readLogs } from '@berth/container-logs';
import { InvalidArgumentError, NotImplementedError } from '@berth/errdefs';
import { qbool, qs, queryOf } from '../api/query.ts';
import { encodeOutput, streamContentType } from '../api/stdcopy.ts';
import { apiVersionOf } from '../api/version.ts';
import type { Engine } from '../engine.ts';
import type { Container } from './container.ts';

function timeArg(v: string | undefined, name: string): bigint | undefined {
  if (v === undefined || v === '' || v === '0') return undefined;
  try {
    return parseTimestamp(v);
  } catch {
    throw new InvalidArgumentError(`invalid value for "${name}": ${v}`);
  }
}

export async function containerLogs(engine: Engine, c: Container, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const q = queryOf(request);
  const stdout = qbool(q, 'stdout');
  const stderr = qbool(q, 'stderr');
  if (!stdout && !stderr) throw new InvalidArgumentError('Bad parameters: you must choose at least one stream');
  if (c.rec.HostConfig.LogConfig?.Type === 'none') {
    throw new NotImplementedError('configured logging driver does not support reading');
  }
  const follow = qbool(q, 'follow');
  const timestamps = qbool(q, 'timestamps');
  const tailArg = qs(q, 'tail');
  let tail: number | undefined;
  if (tailArg !== undefined && tailArg !== '' && tailArg !== 'all') {
    tail = Number(tailArg);
    if (!Number.isInteger(tail)) throw new InvalidArgumentError(`invalid value for "tail": ${tailArg}`);
    if (tail < 0) tail = undefined;
  }
  const since = timeArg(qs(q, 'since'), 'since');
  const until = timeArg(qs(q, 'until'), 'until');
  const tty = c.rec.Config.Tty === true;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': streamContentType(tty, apiVersionOf(request.raw)), 'Api-Version': apiVersionOf(request.raw) });
  res.flushHeaders();
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  try {
    for await (const e of readLogs(c.rec.LogPath, {
      follow: follow && c.running,
      done: c.taskEnds,
      signal: ac.signal,
      ...(tail !== undefined ? { tail } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    })) {
      if (e.stream === 'stdout' ? !stdout : !stderr) continue;
      const data = formatLogLine(e, { timestamps });
      if (!res.write(encodeOutput(tty, e.stream === 'stdout' ? 1 : 2, data))) {
        await new Promise<void>((resolve) => {
          res.once('drain', resolve);
          res.once('close', resolve);
        });
      }
      if (ac.signal.aborted) break;
    }
  } catch (err) {
    if (!ac.signal.aborted) request.log.debug({ err }, 'reading logs failed');
  }
  if (!res.writableEnded) res.end();
}
