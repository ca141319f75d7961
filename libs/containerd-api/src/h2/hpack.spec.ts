import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeHeaders, HpackDecoder, HpackError } from './hpack.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('HpackDecoder', () => {
  it('decodes RFC 7541 C.4 (three requests with Huffman-coded strings sharing one dynamic table)', () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')), [
      [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'],
    ]);
    assert.deepEqual(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf')), [
      [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache'],
    ]);
    assert.deepEqual(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')), [
      [':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value'],
    ]);
    // The newest entry is index 62: custom-key, then cache-control, then :authority.
    assert.deepEqual(d.decode(hex('be bf c0')), [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']]);
  });

  it('evicts the oldest entries to fit a table size update, and refuses an index past the table', () => {
    const d = new HpackDecoder();
    const literal = (name: string, value: string) => Buffer.concat([
      Buffer.from([0x40, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value),
    ]);
    d.decode(Buffer.concat([literal('a', 'x'.repeat(20)), literal('b', 'y'.repeat(20))])); // 53 octets each
    assert.deepEqual(d.decode(hex('be bf')), [['b', 'y'.repeat(20)], ['a', 'x'.repeat(20)]]);
    d.decode(Buffer.from([0x20 | 31, 60 - 31])); // size update to 60: only the newest fits
    assert.deepEqual(d.decode(hex('be')), [['b', 'y'.repeat(20)]]);
    assert.throws(() => d.decode(hex('bf')), HpackError);
    assert.throws(() => d.decode(Buffer.from([0x3f, 0xe2, 0x1f])), /above 4096/); // 4097
  });

  it('refuses malformed blocks: index 0, truncated strings, bad Huffman padding, EOS', () => {
    const d = () => new HpackDecoder();
    assert.throws(() => d().decode(hex('80')), /index 0/);
    assert.throws(() => d().decode(hex('00 05 61')), /truncated/);
    assert.throws(() => d().decode(hex('00 81 00 00')), /padding/); // 8 zero bits: not a code, not padding
    assert.throws(() => d().decode(hex('00 84 ff ff ff ff 00')), /EOS|Huffman/); // 30 ones: EOS
  });

  it('reads back what encodeHeaders writes, long values included', () => {
    const fields: Array<[string, string]> = [[':status', '200'], ['content-type', 'application/grpc+proto'], ['grpc-message', 'm'.repeat(300)]];
    assert.deepEqual(new HpackDecoder().decode(encodeHeaders(fields)), fields);
  });
});
