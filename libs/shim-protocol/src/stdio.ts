// The stdio targets a task or exec names (StdioConfig in messages.ts), parsed. Shared by the shim (which
// opens them) and by its callers (which validate before they create anything).
import { parseJsonFileOptions } from '@berth/container-logs';
import { InvalidArgumentError } from '@berth/errdefs';
import path from 'node:path';

export type StdioTarget =
  | { kind: 'none' }
  /** A FIFO (or any file that can be opened for reading/writing) the shim copies to or from. */
  | { kind: 'fifo'; path: string }
  /** Output appended raw to a regular file. */
  | { kind: 'file'; path: string }
  /** Docker's json-file log, rotated. */
  | { kind: 'jsonfile'; path: string; maxSize: number; maxFile: number };

/** Parses one stdio field: '', an absolute path, `file:///abs`, or `jsonfile:///abs?max-size=…&max-file=…`. */
export function parseStdio(value: string | undefined, field = 'stdio'): StdioTarget {
  if (!value) return { kind: 'none' };
  if (value.startsWith('/')) return { kind: 'fifo', path: path.normalize(value) };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`${field} ${JSON.stringify(value)}: expected an absolute path or a file:// or jsonfile:// URI`);
  }
  if (!['file:', 'fifo:', 'jsonfile:'].includes(url.protocol)) {
    throw new InvalidArgumentError(`${field} ${JSON.stringify(value)}: unsupported scheme ${url.protocol} (use file:// or jsonfile://)`);
  }
  const file = decodeURIComponent(url.pathname);
  if (url.host !== '' || !file.startsWith('/')) {
    throw new InvalidArgumentError(`${field} ${JSON.stringify(value)}: the URI must name an absolute path (three slashes)`);
  }
  switch (url.protocol) {
    case 'file:':
      return { kind: 'file', path: file };
    case 'fifo:':
      return { kind: 'fifo', path: file };
    default: {
      const opts = parseJsonFileOptions(Object.fromEntries(url.searchParams));
      return { kind: 'jsonfile', path: file, ...opts };
    }
  }
}

/** `jsonfile:///abs/path?max-size=…&max-file=…` for a log path and Docker's log options. */
export function jsonFileUri(file: string, opts: { 'max-size'?: string; 'max-file'?: string } = {}): string {
  const url = new URL('jsonfile:///');
  url.pathname = file;
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) url.searchParams.set(k, v);
  parseStdio(url.href);
  return url.href;
}
