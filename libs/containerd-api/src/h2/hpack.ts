// HPACK (RFC 7541), as much as a gRPC server needs: a full decoder (static and dynamic tables, Huffman-coded
// strings, table size updates) for the clients' header blocks, and an encoder that writes every field as a literal
// without indexing (plain strings), which needs no table state and which every decoder accepts.

/** Thrown for a header block that cannot be decoded: a connection error (COMPRESSION_ERROR) in HTTP/2. */
export class HpackError extends Error {}

const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

// The Huffman code of RFC 7541 Appendix B is canonical: each symbol's code follows from the code lengths alone
// (codes assigned in order of length, then of symbol). The lengths of symbols 0–255 and EOS (256), one letter each:
// 'a' is 5 bits … 'z' is 30.
const CODE_LENGTHS =
  'isxxxxxxxtzxxzxxxxxxxxzxxxxxxxxxbffhibdgffdgdbbbaaabbbbbbbcdkbhf' +
  'ibccccccccccccccccccccccdcdioijbkabababbbaccbbbabcbaabccccckgjix' +
  'prpprrrsrssssststtrstssssqrsrsstrqprrssqsrrtqrssqqrqsrssprrrsrrs' +
  'vvporsruvvvwwvtuoqvwwvwtqqvvxwwwptpqrqqsrruuttvsvwvvwwwwwxwwwwwv' +
  'z';
const EOS = 256;
const MAX_CODE_LENGTH = 30;

/** Canonical decoding tables: per length, the first code, how many codes, and where their symbols start. */
const huffman = (() => {
  const lengths = Array.from(CODE_LENGTHS, (c) => c.charCodeAt(0) - 97 + 5);
  const symbols = lengths.map((_, s) => s).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const firstCode = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  const count = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  const offset = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  for (const l of lengths) count[l]!++;
  let code = 0;
  let index = 0;
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) {
    firstCode[l] = code;
    offset[l] = index;
    code = (code + count[l]!) * 2;
    index += count[l]!;
  }
  return { symbols, firstCode, count, offset };
})();

function huffmanDecode(data: Buffer): string {
  const { symbols, firstCode, count, offset } = huffman;
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (const byte of data) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const i = code - firstCode[len]!;
      if (i < count[len]!) {
        const sym = symbols[offset[len]! + i]!;
        if (sym === EOS) throw new HpackError('Huffman string contains EOS');
        out.push(sym);
        code = 0;
        len = 0;
      } else if (len === MAX_CODE_LENGTH) {
        throw new HpackError('invalid Huffman code');
      }
    }
  }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (len > 7 || code !== 2 ** len - 1) throw new HpackError('invalid Huffman padding');
  return Buffer.from(out).toString('latin1');
}

const entrySize = (name: string, value: string) => name.length + value.length + 32;

export class HpackDecoder {
  private readonly dynamic: Array<[string, string]> = []; // newest first
  private size = 0;
  private maxSize: number;
  /** The largest table the encoder may ask for (our SETTINGS_HEADER_TABLE_SIZE). */
  private readonly limit: number;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  constructor(limit = 4096) {
    this.limit = limit;
    this.maxSize = limit;
  }

  /** Decodes one complete header block (names and values as latin1 strings, in order). */
  decode(block: Buffer): Array<[string, string]> {
    this.buf = block;
    this.pos = 0;
    const fields: Array<[string, string]> = [];
    while (this.pos < block.length) {
      const b = block[this.pos]!;
      if (b & 0x80) {
        fields.push(this.entry(this.integer(7)));
      } else if (b & 0x40) {
        const f = this.literal(6);
        this.insert(f);
        fields.push(f);
      } else if (b & 0x20) {
        const size = this.integer(5);
        if (size > this.limit) throw new HpackError(`table size update ${size} above ${this.limit}`);
        this.maxSize = size;
        this.evict(0);
      } else {
        fields.push(this.literal(4)); // without indexing (0000) or never indexed (0001)
      }
    }
    return fields;
  }

  private integer(prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let n = this.buf[this.pos++]! & mask;
    if (n < mask) return n;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new HpackError('truncated integer');
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return n;
      if (shift > 28) throw new HpackError('integer too large');
    }
  }

  private string(): string {
    if (this.pos >= this.buf.length) throw new HpackError('truncated string');
    const huffmanCoded = (this.buf[this.pos]! & 0x80) !== 0;
    const len = this.integer(7);
    if (this.pos + len > this.buf.length) throw new HpackError('truncated string');
    const raw = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return huffmanCoded ? huffmanDecode(raw) : raw.toString('latin1');
  }

  private literal(prefixBits: number): [string, string] {
    const index = this.integer(prefixBits);
    const name = index === 0 ? this.string() : this.entry(index)[0];
    return [name, this.string()];
  }

  private entry(index: number): [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) {
      const [n, v] = STATIC_TABLE[index - 1]!;
      return [n, v];
    }
    const e = this.dynamic[index - STATIC_TABLE.length - 1];
    if (!e) throw new HpackError(`index ${index} is not in the table`);
    return [e[0], e[1]];
  }

  private insert(f: [string, string]): void {
    const size = entrySize(f[0], f[1]);
    this.evict(size);
    if (size <= this.maxSize) {
      this.dynamic.unshift(f);
      this.size += size;
    }
  }

  /** Evicts the oldest entries until `room` more octets fit (an entry larger than the table empties it). */
  private evict(room: number): void {
    while (this.dynamic.length > 0 && this.size + room > this.maxSize) {
      const [n, v] = this.dynamic.pop()!;
      this.size -= entrySize(n, v);
    }
  }
}

function encodeInteger(out: number[], first: number, prefixBits: number, n: number): void {
  const mask = (1 << prefixBits) - 1;
  if (n < mask) {
    out.push(first | n);
    return;
  }
  out.push(first | mask);
  n -= mask;
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

function encodeString(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'latin1');
  encodeInteger(out, 0, 7, bytes.length);
  for (const b of bytes) out.push(b);
}

/** A header block: each field a literal without indexing with a plain (not Huffman-coded) name and value. */
export function encodeHeaders(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    if (name === ':status' && value === '200') {
      out.push(0x88); // static entry 8
      continue;
    }
    out.push(0x00);
    encodeString(out, name);
    encodeString(out, value);
  }
  return Buffer.from(out);
}
