// Writes the plan's TLV records: [u16 tag][u16 0][u32 length][payload], native (little-endian) byte order,
// into one growing buffer (a plan has hundreds of small records; one buffer keeps encoding cheap).

export class TlvWriter {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private off = 0;

  private reserve(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  private head(tag: number, len: number): void {
    this.reserve(8 + len);
    this.buf.writeUInt16LE(tag, this.off);
    this.buf.writeUInt16LE(0, this.off + 2);
    this.buf.writeUInt32LE(len, this.off + 4);
    this.off += 8;
  }

  raw(tag: number, payload: Uint8Array): this {
    this.head(tag, payload.length);
    this.buf.set(payload, this.off);
    this.off += payload.length;
    return this;
  }

  u32(tag: number, value: number): this {
    this.head(tag, 4);
    this.buf.writeUInt32LE(value >>> 0, this.off);
    this.off += 4;
    return this;
  }

  i32(tag: number, value: number): this {
    this.head(tag, 4);
    this.buf.writeInt32LE(value, this.off);
    this.off += 4;
    return this;
  }

  bool(tag: number, value: boolean): this {
    return this.u32(tag, value ? 1 : 0);
  }

  /** One or more NUL-terminated strings in one record. */
  str(tag: number, ...values: string[]): this {
    let len = 0;
    for (const v of values) {
      if (v.includes('\0')) throw new TypeError(`plan string contains NUL: ${JSON.stringify(v)}`);
      len += Buffer.byteLength(v) + 1;
    }
    this.head(tag, len);
    for (const v of values) {
      this.off += this.buf.write(v, this.off);
      this.buf[this.off++] = 0;
    }
    return this;
  }

  /** Opens a nested record: write its fields, then end() patches its length. */
  begin(tag: number): number {
    this.head(tag, 0);
    return this.off;
  }

  end(start: number): this {
    this.buf.writeUInt32LE(this.off - start, start - 4);
    return this;
  }

  toBuffer(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}
