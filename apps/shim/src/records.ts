// The shim's files in its state dir (names in @berth/shim-protocol's state-files): written with temp + fsync +
// rename, so a record that was announced survives a crash of the machine's daemons (SIGKILL: the rename is in
// place before anyone is told); the directory's fsync, for a crash of the machine itself, follows through the
// thread pool instead of holding the announcement (~0.4 ms).
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';

export function writeRecord(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o711 });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    const data = Buffer.from(`${JSON.stringify(value)}\n`);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  void syncDir(path.dirname(file)).catch(() => {}); // the dir may be gone already (a deleted task)
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * writeRecord through the thread pool: the fsyncs (~1 ms each on a disk) happen while the event loop serves
 * other requests. The directory must exist.
 */
export async function writeRecordAsync(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(value)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(path.dirname(file));
}
