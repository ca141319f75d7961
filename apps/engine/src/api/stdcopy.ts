/**
 * Docker's stdio framing for streams without a TTY: each chunk is preceded by an 8-byte header
 * `[stream, 0, 0, 0, size uint32 BE]` (stream 0 stdin, 1 stdout, 2 stderr, 3 a system error message).
 * With a TTY the stream is raw bytes.
 */
import { versionAtLeast } from './version.ts';

export type StdStream = 0 | 1 | 2 | 3;

export const MEDIA_MULTIPLEXED = 'application/vnd.docker.multiplexed-stream';
export const MEDIA_RAW = 'application/vnd.docker.raw-stream';

export function frame(stream: StdStream, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

/** Content type of an attach/exec/logs stream at an API version (multiplexed has its own type from 1.42). */
export function streamContentType(tty: boolean, apiVersion: string): string {
  if (tty) return MEDIA_RAW;
  return versionAtLeast(apiVersion, '1.42') ? MEDIA_MULTIPLEXED : MEDIA_RAW;
}

/** Encodes one output chunk for a client: framed without a TTY, raw with one. */
export function encodeOutput(tty: boolean, stream: 1 | 2, data: Buffer): Buffer {
  return tty ? data : frame(stream, data);
}
