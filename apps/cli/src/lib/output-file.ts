import type { Readable } from 'node:stream';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { stdout } from '../context.ts';

/** Copies a stream to `file` (through a temp file renamed at the end) or to stdout. */
export async function writeOutput(body: Readable, file: string | undefined): Promise<void> {
  if (!file) {
    await pipeline(body, stdout(), { end: false });
    return;
  }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await pipeline(body, createWriteStream(tmp));
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
