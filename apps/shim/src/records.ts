// The shim's files in its state dir (names in @berth/shim-protocol's state-files): written with temp + fsync +
// rename (@berth/runtime's writeFileAtomic), so a record that was announced survives a crash of the machine's
// daemons (SIGKILL: the rename is in place before anyone is told); the directory's fsync, for a crash of the
// machine itself, follows through the thread pool instead of holding the announcement (~0.4 ms).
// A record written on a hot path (the task's exit) can have its temp file prepared ahead: written whole and
// fsynced in the thread pool, so that committing it overwrites bytes already on disk and needs only fdatasync (size
// and blocks unchanged: no journal commit) before the rename.
import { writeFileAtomic, writeFileAtomicAsync } from '@berth/runtime';
import { closeSync, fdatasyncSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
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

/** Size of a prepared temp: the record, then spaces (JSON allows trailing whitespace) up to this many bytes. */
export const PREPARED_SIZE = 4096;

const preparedTemp = (file: string) => `${file}.prepared`;

/** Writes and fsyncs the temp of `file` ahead of commitRecord (through the thread pool); resolves with its path. */
export async function prepareRecord(file: string): Promise<string> {
  const tmp = preparedTemp(file);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(Buffer.alloc(PREPARED_SIZE, 0x20));
    await fh.sync();
  } finally {
    await fh.close();
  }
  return tmp;
}

/**
 * writeRecord through the temp prepareRecord made (`prepared` is what it resolved with): the record and its padding
 * overwrite the temp in place, fdatasync, rename. Without a prepared temp, or for a record that does not fit, it is
 * writeRecord.
 */
export function commitRecord(file: string, value: unknown, prepared: string | undefined): void {
  const data = Buffer.from(text(value));
  if (prepared !== preparedTemp(file) || data.length > PREPARED_SIZE) return writeRecord(file, value);
  const buf = Buffer.alloc(PREPARED_SIZE, 0x20);
  data.copy(buf);
  const fd = openSync(prepared, 'r+');
  try {
    writeFileSync(fd, buf); // from offset 0, written whole
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(prepared, file);
  void syncDir(path.dirname(file)).catch(() => {});
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
