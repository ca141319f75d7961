/** `GET /containers/{id}/top`: the host's `ps` output, keeping the container's processes (as dockerd does). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ContainerTopResponse } from '@berth/docker-api';
import { ConflictError, InternalError, InvalidArgumentError } from '@berth/errdefs';
import type { Engine } from '../engine.ts';
import type { Container } from './container.ts';

const run = promisify(execFile);

/** Parses `ps` output and keeps the rows whose PID is one of `pids`. */
export function filterPs(output: string, pids: Set<number>): ContainerTopResponse {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (!header) throw new InternalError('ps printed nothing');
  const titles = header.trim().split(/\s+/);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new InvalidArgumentError(`Couldn't find PID field in ps output`);
  const processes: string[][] = [];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    const pid = Number(fields[pidIndex]);
    if (!pids.has(pid)) continue;
    const row = fields.slice(0, titles.length - 1);
    row.push(fields.slice(titles.length - 1).join(' '));
    processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}

export async function containerTop(engine: Engine, c: Container, psArgs: string | undefined): Promise<ContainerTopResponse> {
  if (!c.hasTask) throw new ConflictError(`Container ${c.id} is not running`);
  if (c.status === 'restarting') throw new ConflictError(`Container ${c.id} is restarting, wait until the container is running`);
  const args = (psArgs || '-ef').split(/\s+/).filter(Boolean);
  const pids = new Set((await engine.rt.tasks.pids(c.id)).map((p) => p.pid));
  let out: string;
  try {
    out = (await run('ps', args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    throw new InternalError(`Error running ps: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
  }
  engine.containers.emit(c, 'top');
  return filterPs(out, pids);
}
