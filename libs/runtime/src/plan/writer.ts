// Writes the plan's TLV records: [u16 tag][u16 0][u32 length][payload], native (little-endian) byte order.

export class TlvWriter {
  private readonly chunks: Buffer[] = [];

  raw(tag: number, payload: Uint8Array): this {
    const head = Buffer.alloc(8);
    head.writeUInt16LE(tag, 0);
    head.writeUInt32LE(payload.length, 4);
    this.chunks.push(head, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    return this;
  }

  u32(tag: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0, 0);
    return this.raw(tag, b);
  }

  i32(tag: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value, 0);
    return this.raw(tag, b);
  }

  bool(tag: number, value: boolean): this {
    return this.u32(tag, value ? 1 : 0);
  }

  /** One or more NUL-terminated strings in one record. */
  str(tag: number, ...values: string[]): this {
    if (values.some((v) => v.includes('\0'))) throw new TypeError(`plan string contains NUL: ${JSON.stringify(values)}`);
    return this.raw(tag, Buffer.from(values.map((v) => `${v}\0`).join(''), 'utf8'));
  }

  nested(tag: number, inner: TlvWriter): this {
    return this.raw(tag, inner.toBuffer());
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
