/**
 * The server side of RFC 6455, as much as `GET /containers/{id}/attach/ws` needs: the opening handshake's
 * accept key, unfragmented binary frames out (a server never masks), and the client's frames in (always masked;
 * fragments are passed on as they come, pings answered, a close frame answered and the connection closed).
 */
import { createHash } from 'node:crypto';
import { Readable, type Duplex } from 'node:stream';
import { InvalidArgumentError } from '@berth/errdefs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_FRAME = 16 * 1024 * 1024;

export const OP_BINARY = 0x2;
const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** The `101 Switching Protocols` head for a client's `Sec-WebSocket-Key`. */
export function handshakeResponse(key: string | undefined, extraHeaders: Record<string, string>): string {
  if (!key || Buffer.from(key, 'base64').length !== 16) throw new InvalidArgumentError('websocket: missing or invalid Sec-WebSocket-Key');
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  const extra = Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`;
}

/** One unfragmented, unmasked frame. */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  let head: Buffer;
  if (len < 126) {
    head = Buffer.from([0x80 | opcode, len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = 0x80 | opcode;
  return Buffer.concat([head, payload]);
}

/**
 * The data the client sends over `socket` (after `head`, bytes that came with the request), frame payloads in
 * order. Pings are answered with pongs; a close frame is answered and ends the stream, as does the socket's end.
 */
export function decodeFrames(socket: Duplex, head: Buffer): Readable {
  async function* frames(): AsyncGenerator<Buffer> {
    let buf = head;
    const it = socket[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const need = async (n: number): Promise<boolean> => {
      while (buf.length < n) {
        const r = await it.next();
        if (r.done) return false;
        buf = buf.length === 0 ? r.value : Buffer.concat([buf, r.value]);
      }
      return true;
    };
    for (;;) {
      if (!(await need(2))) return;
      const opcode = buf[0]! & 0x0f;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (!(await need(4))) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (!(await need(10))) return;
        const big = buf.readBigUInt64BE(2);
        if (big > BigInt(MAX_FRAME)) throw new InvalidArgumentError('websocket: frame too large');
        len = Number(big);
        off = 10;
      }
      if (len > MAX_FRAME) throw new InvalidArgumentError('websocket: frame too large');
      // RFC 6455 5.1: a client's frames are masked; an unmasked one ends the connection.
      if (!masked) throw new InvalidArgumentError('websocket: unmasked client frame');
      if (!(await need(off + 4 + len))) return;
      const mask = buf.subarray(off, off + 4);
      const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      buf = buf.subarray(off + 4 + len);
      if (opcode === OP_CLOSE) {
        // The closing handshake: answer, then the server closes the TCP connection (RFC 6455 7.1.1).
        if (!socket.writableEnded) socket.end(encodeFrame(OP_CLOSE, payload.subarray(0, 2)));
        return;
      }
      if (opcode === OP_PING) {
        if (!socket.writableEnded) socket.write(encodeFrame(OP_PONG, payload));
        continue;
      }
      if (opcode === OP_PONG) continue;
      if (opcode !== OP_BINARY && opcode !== OP_TEXT && opcode !== OP_CONTINUATION) throw new InvalidArgumentError(`websocket: unknown opcode ${opcode}`);
      if (payload.length > 0) yield payload;
    }
  }
  return Readable.from(frames(), { objectMode: false });
}

/** A close frame (normal closure). */
export function closeFrame(): Buffer {
  return encodeFrame(OP_CLOSE, Buffer.from([0x03, 0xe8]));
}
