// Raw stdio streams on an attach connection, after the `attach` answer. Both directions use Docker's
// multiplexed framing: an 8-byte header [stream, 0, 0, 0, uint32 BE length] and the payload.
//
//   client → shim   stream 0: stdin bytes; a stream-0 frame of length 0 closes the process's stdin
//   shim → client   stream 1: stdout, stream 2: stderr (a terminal's output is stream 1),
//                   stream 3: the exit status as JSON (ExitStatus), after all output; then the shim ends the
//                   connection
export const STREAM_STDIN = 0;
export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;
export const STREAM_EXIT = 3;

export function encodeStreamFrame(stream: number, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(8 + data.length);
  out.writeUInt32BE(0, 0);
  out[0] = stream;
  out.writeUInt32BE(data.length, 4);
  data.copy(out, 8);
  return out;
}

export interface StreamFrame {
  stream: number;
  data: Buffer;
}

export class StreamDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): StreamFrame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: StreamFrame[] = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      out.push({ stream: this.buf[0]!, data: this.buf.subarray(8, 8 + len) });
      this.buf = this.buf.subarray(8 + len);
    }
    return out;
  }
}
