import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildQuery, buildResponse, errorResponse, parseAnswers, parseQuestion, reverseName, RCODE_NOERROR, RCODE_REFUSED, TYPE_A, TYPE_PTR,
} from './dns-message.ts';

describe('DNS messages', () => {
  it('parses a query and answers it with A records the parser reads back', () => {
    const q = buildQuery(0x1234, 'Web.Example', TYPE_A);
    const parsed = parseQuestion(q)!;
    assert.equal(parsed.id, 0x1234);
    assert.equal(parsed.name, 'web.example');
    assert.equal(parsed.type, TYPE_A);
    assert.ok(parsed.rd);
    const r = buildResponse(q, parsed, RCODE_NOERROR, [{ type: TYPE_A, ttl: 600, data: '10.1.2.3' }, { type: TYPE_A, ttl: 600, data: '10.1.2.4' }]);
    assert.equal(r.readUInt16BE(0), 0x1234);
    assert.ok(r.readUInt16BE(2) & 0x8000);
    assert.deepEqual(parseAnswers(r), { rcode: 0, answers: [{ type: TYPE_A, ttl: 600, data: '10.1.2.3' }, { type: TYPE_A, ttl: 600, data: '10.1.2.4' }] });
  });

  it('answers PTR with a name', () => {
    const q = buildQuery(7, '3.2.1.10.in-addr.arpa', TYPE_PTR);
    const parsed = parseQuestion(q)!;
    assert.equal(reverseName(parsed.name), '10.1.2.3');
    const r = buildResponse(q, parsed, RCODE_NOERROR, [{ type: TYPE_PTR, ttl: 600, data: 'web.net1' }]);
    assert.deepEqual(parseAnswers(r).answers, [{ type: TYPE_PTR, ttl: 600, data: 'web.net1' }]);
  });

  it('rejects responses, truncated and compressed questions; error replies keep the id', () => {
    const q = buildQuery(9, 'a', TYPE_A);
    assert.equal(parseQuestion(q.subarray(0, 14)), undefined);
    const resp = Buffer.from(q);
    resp.writeUInt16BE(0x8100, 2);
    assert.equal(parseQuestion(resp), undefined);
    const e = errorResponse(q, RCODE_REFUSED);
    assert.equal(e.readUInt16BE(0), 9);
    assert.equal(parseAnswers(Buffer.concat([e])).rcode, RCODE_REFUSED);
  });
});
