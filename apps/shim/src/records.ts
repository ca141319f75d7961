// The shim's files in its state dir (names in @berth/shim-protocol's state-files): written with temp + fsync +
// rename (@berth/runtime's writeFileAtomic), so a record that was announced survives a crash of the machine's
// daemons (SIGKILL: the rename is in place before anyone is told); the directory's fsync, for a crash of the
// machine itself, follows through the thread pool instead of holding the announcement (~0.4 ms).
import { writeFileAtomic, writeFileAtomicAsync } from '@berth/runtime';
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';

const text = (value: unknown) => `${JSON.stringify(value)}\n`;

export function writeRecord(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o711 });
  writeFileAtomic(file, text(value));
  void syncDir(path.dirname(file)).catch(() => {}); // the dir may be gone already (a deleted task)
}

/**
 * writeRecord through the thread pool: the fsyncs (~1 ms each on a disk) happen while the event loop serves
 * other requests. The directory must exist.
 */
export async function writeRecordAsync(file: string, value: unknown): Promise<void> {
  await writeFileAtomicAsync(file, text(value));
  await syncDir(path.dirname(file));
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
