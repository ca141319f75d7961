// Renders a JSON progress stream (pull, push, build, load, import) like docker's jsonmessage package: on a
// terminal, one line per layer updated in place with a progress bar; otherwise plain lines, skipping the
// in-flight progress updates.
import { jsonLines, type JSONMessage, type ProgressDetail } from '@berth/docker-api';
import type { Readable } from 'node:stream';
import { humanSize } from '../format/units.ts';

/** An error reported inside the stream (`{"error": …}`): printed as is, no "Error response from daemon". */
export class StreamError extends Error {
  readonly code: number | undefined;
  constructor(message: string, code?: number) {
    super(message);
    this.name = 'StreamError';
    this.code = code;
  }
}

export interface DisplayOptions {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force terminal rendering on or off (default: out.isTTY). */
  terminal?: boolean;
  /** Called for `aux` messages (build's image id, push's digest). */
  onAux?: (aux: unknown) => void;
}

export async function displayProgress(body: Readable, opts: DisplayOptions): Promise<void> {
  const out = opts.out;
  const terminal = opts.terminal ?? out.isTTY === true;
  const width = out.columns ?? 200;
  let ids = new Map<string, number>();
  for await (const jm of jsonLines<JSONMessage>(body)) {
    if (jm.aux !== undefined) {
      opts.onAux?.(jm.aux);
      continue;
    }
    let diff = 0;
    const hasProgress = jm.progressDetail !== undefined || (jm.progress ?? '') !== '';
    if (jm.id && hasProgress) {
      let line = ids.get(jm.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(jm.id, line);
        if (terminal) out.write('\n');
      }
      diff = ids.size - line;
      if (terminal && diff > 0) out.write(`\x1b[${diff}A`);
    } else {
      ids = new Map();
    }
    if (jm.errorDetail || jm.error) throw new StreamError(jm.errorDetail?.message ?? jm.error ?? 'unknown error', jm.errorDetail?.code);
    display(jm, out, terminal, width);
    if (jm.id && terminal && diff > 0) out.write(`\x1b[${diff}B`);
  }
}

function display(jm: JSONMessage, out: NodeJS.WritableStream, terminal: boolean, width: number): void {
  let endl = '';
  const progress = jm.progressDetail ? progressString(jm.progressDetail, width) : '';
  if (terminal && !jm.stream && jm.progressDetail !== undefined) {
    out.write('\x1b[2K\r');
    endl = '\r';
  } else if (jm.progressDetail !== undefined && progress !== '') {
    return;
  }
  let s = '';
  if (jm.id) s += `${jm.id}: `;
  if (jm.from) s += `(from ${jm.from}) `;
  if (jm.progressDetail !== undefined && terminal) s += `${jm.status ?? ''} ${progress}${endl}`;
  else if (jm.progress && jm.progressDetail === undefined) s += `${jm.status ?? ''} ${jm.progress}${endl}`;
  else if (jm.stream) s += `${jm.stream}${endl}`;
  else s += `${jm.status ?? ''}${endl}\n`;
  out.write(s);
}

/** jsonmessage.JSONProgress.String(): `[====>    ]  1.2MB/4.5MB`. */
export function progressString(p: ProgressDetail, width: number): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  const cur = humanSize(current);
  if (total <= 0) return cur.padStart(8);
  const tot = humanSize(total);
  let percentage = Math.floor((current / total) * 100 / 2);
  if (percentage > 50) percentage = 50;
  let bar = '';
  if (width > 110) bar = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  let numbers = '';
  if (!p.hidecounts) numbers = current > total ? '' : `${cur.padStart(8)}/${tot}`;
  return bar + numbers;
}
