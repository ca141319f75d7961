// Length-prefixed JSON frames: a 4-byte big-endian length, then that many bytes of UTF-8 JSON. One frame is
// one message (request, response or event); see messages.ts.
import { InvalidArgumentError } from '@berth/errdefs';

/** Frames larger than this are a protocol error (a runtime spec or a stats answer is a few tens of KB). */
export const MAX_FRAME = 16 * 1024 * 1024;

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > MAX_FRAME) throw new InvalidArgumentError(`shim protocol: message of ${body.length} bytes exceeds ${MAX_FRAME}`);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Collects stream chunks and returns every complete frame's decoded message. */
export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  push(chunk: Buffer): unknown[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: unknown[] = [];
    while (this.pendingBytes >= 4) {
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len > MAX_FRAME) throw new InvalidArgumentError(`shim protocol: frame of ${len} bytes exceeds ${MAX_FRAME}`);
      if (this.pendingBytes < 4 + len) break;
      const frame = this.take(4 + len);
      out.push(JSON.parse(frame.toString('utf8', 4)));
    }
    return out;
  }

  /** Bytes received after the last complete frame (handed over when a connection switches to raw streams). */
  rest(): Buffer {
    const b = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return b;
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length < n) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return frame;
  }
}
