// Writes the plan's TLV records: [u16 tag][u16 0][u32 length][payload], native (little-endian) byte order,
// into one growing byte array. DataView and TextEncoder are engine built-ins: berth-runc runs this code once per
// process, cold, where Buffer's JavaScript-level write helpers cost milliseconds.

const encoder = new TextEncoder();

export class TlvWriter {
  private u8 = new Uint8Array(16 * 1024);
  private dv = new DataView(this.u8.buffer);
  private off = 0;

  private reserve(n: number): void {
    if (this.off + n <= this.u8.length) return;
    const next = new Uint8Array(Math.max(this.u8.length * 2, this.off + n));
    next.set(this.u8.subarray(0, this.off));
    this.u8 = next;
    this.dv = new DataView(next.buffer);
  }

  private head(tag: number, len: number): void {
    this.reserve(8 + len);
    this.dv.setUint16(this.off, tag, true);
    this.dv.setUint16(this.off + 2, 0, true);
    this.dv.setUint32(this.off + 4, len, true);
    this.off += 8;
  }

  raw(tag: number, payload: Uint8Array): this {
    this.head(tag, payload.length);
    this.u8.set(payload, this.off);
    this.off += payload.length;
    return this;
  }

  u32(tag: number, value: number): this {
    this.head(tag, 4);
    this.dv.setUint32(this.off, value >>> 0, true);
    this.off += 4;
    return this;
  }

  i32(tag: number, value: number): this {
    this.head(tag, 4);
    this.dv.setInt32(this.off, value, true);
    this.off += 4;
    return this;
  }

  bool(tag: number, value: boolean): this {
    return this.u32(tag, value ? 1 : 0);
  }

  /** One or more NUL-terminated strings in one record. */
  str(tag: number, ...values: string[]): this {
    const start = this.begin(tag);
    for (const v of values) this.putStr(v);
    return this.end(start);
  }

  /** Payload pieces for composite records, between begin() and end(). */
  putU16(v: number): this {
    this.reserve(2);
    this.dv.setUint16(this.off, v, true);
    this.off += 2;
    return this;
  }

  putU32(v: number): this {
    this.reserve(4);
    this.dv.setUint32(this.off, v >>> 0, true);
    this.off += 4;
    return this;
  }

  putU64(v: bigint): this {
    this.reserve(8);
    this.dv.setBigUint64(this.off, BigInt.asUintN(64, v), true);
    this.off += 8;
    return this;
  }

  putStr(v: string): this {
    this.reserve(v.length * 3 + 1);
    const u8 = this.u8;
    let off = this.off;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c === 0) throw new TypeError(`plan string contains NUL: ${JSON.stringify(v)}`);
      if (c >= 0x80) {
        // not ASCII: let the engine encode the whole string
        off = this.off + encoder.encodeInto(v, u8.subarray(this.off)).written;
        break;
      }
      u8[off++] = c;
    }
    u8[off++] = 0;
    this.off = off;
    return this;
  }

  /** Opens a nested record: write its fields, then end() patches its length. */
  begin(tag: number): number {
    this.head(tag, 0);
    return this.off;
  }

  end(start: number): this {
    this.dv.setUint32(start - 4, this.off - start, true);
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.from(this.u8.buffer, 0, this.off);
  }
}
