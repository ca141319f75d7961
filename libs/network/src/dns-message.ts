// The few parts of the DNS wire format (RFC 1035) the embedded server needs: the header and first question of a
// query, and answers of type A and PTR (or none) for names it owns. Everything else is forwarded as bytes.

export const TYPE_A = 1;
export const TYPE_PTR = 12;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_REFUSED = 5;

export interface Question {
  id: number;
  /** Recursion desired, copied into the answer. */
  rd: boolean;
  opcode: number;
  /** Lower-case, without the trailing dot. */
  name: string;
  type: number;
  class: number;
  /** Byte offset just after the question (its raw bytes are `msg.subarray(12, end)`). */
  end: number;
}

/** Parses the header and the first question; `undefined` for anything that is not a well-formed query. */
export function parseQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12) return undefined;
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return undefined;
  if (msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) {
      off += 1;
      break;
    }
    if (len & 0xc0 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return {
    id: msg.readUInt16BE(0),
    rd: (flags & 0x0100) !== 0,
    opcode: (flags >> 11) & 0xf,
    name: labels.join('.').toLowerCase(),
    type: msg.readUInt16BE(off),
    class: msg.readUInt16BE(off + 2),
    end: off + 4,
  };
}

export function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean).map((l) => {
    const b = Buffer.from(l, 'latin1');
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

export interface Answer {
  type: number;
  ttl: number;
  /** Dotted IPv4 address for A, a domain name for PTR. */
  data: string;
}

/** A response to `q` (its question echoed from `query`) with `answers`, authoritative, recursion available. */
export function buildResponse(query: Buffer, q: Question, rcode: number, answers: Answer[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  header.writeUInt16BE(0x8000 | (q.opcode << 11) | 0x0400 | (q.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const rrs = answers.map((a) => {
    const rdata = a.type === TYPE_A ? Buffer.from(a.data.split('.').map(Number)) : encodeName(a.data);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(a.type, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(a.ttl, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, q.end), ...rrs]);
}

/** A bare error response for a query whose question could not be used. */
export function errorResponse(query: Buffer, rcode: number): Buffer {
  const header = Buffer.alloc(12);
  if (query.length >= 4) {
    query.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0080 | (rcode & 0xf), 2);
  }
  return header;
}

/** `4.3.2.1.in-addr.arpa` → `1.2.3.4`; anything else → undefined. */
export function reverseName(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  return m ? `${m[4]}.${m[3]}.${m[2]}.${m[1]}` : undefined;
}

/** Builds a query (for tests and health checks). */
export function buildQuery(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([header, encodeName(name), tail]);
}

/** Reads the answers of a response: `[rcode, addresses/names]` (A and PTR only; for tests). */
export function parseAnswers(msg: Buffer): { rcode: number; answers: Answer[] } {
  const rcode = msg.readUInt16BE(2) & 0xf;
  const an = msg.readUInt16BE(6);
  let off = 12;
  const skipName = (o: number): number => {
    for (;;) {
      const len = msg[o]!;
      if (len === 0) return o + 1;
      if ((len & 0xc0) === 0xc0) return o + 2;
      o += 1 + len;
    }
  };
  const readName = (o: number): string => {
    const labels: string[] = [];
    for (let guard = 0; guard < 64; guard++) {
      const len = msg[o]!;
      if (len === 0) break;
      if ((len & 0xc0) === 0xc0) {
        o = msg.readUInt16BE(o) & 0x3fff;
        continue;
      }
      labels.push(msg.toString('latin1', o + 1, o + 1 + len));
      o += 1 + len;
    }
    return labels.join('.');
  };
  for (let i = msg.readUInt16BE(4); i > 0; i--) off = skipName(off) + 4;
  const answers: Answer[] = [];
  for (let i = 0; i < an; i++) {
    off = skipName(off);
    const type = msg.readUInt16BE(off);
    const ttl = msg.readUInt32BE(off + 4);
    const len = msg.readUInt16BE(off + 8);
    const rdata = off + 10;
    if (type === TYPE_A) answers.push({ type, ttl, data: [...msg.subarray(rdata, rdata + 4)].join('.') });
    else if (type === TYPE_PTR) answers.push({ type, ttl, data: readName(rdata) });
    off = rdata + len;
  }
  return { rcode, answers };
}
