import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  exposedPorts, goDuration, goQuoteList, goTime, healthText, normalizeWorkdir, OrderedOutput, runConfigJson, runConfigOf, serializeConfig,
  type JsonMessage,
} from './index.ts';

describe('image configs as dockerd writes them', () => {
  it('prints values in history the way dockerd 20.10 does', () => {
    // Both strings are copied from `docker history --no-trunc` on a real dockerd.
    assert.equal(healthText({ Test: ['CMD-SHELL', 'true'], Interval: 90e9 }), '&{["CMD-SHELL" "true"] "1m30s" "0s" "0s" \'\\x00\'}');
    assert.equal(goQuoteList(['sh', '-c', 'echo "hi"']), '["sh" "-c" "echo \\"hi\\""]');
    assert.equal(goQuoteList(null), '[]');
    assert.equal(goDuration(1.5e9), '1.5s');
    assert.equal(goDuration(3_725e9), '1h2m5s');
    assert.equal(goDuration(5e5), '500µs');
    assert.equal(goTime(new Date('2026-01-02T03:04:05.120Z')), '2026-01-02T03:04:05.12Z');
    assert.equal(goTime(new Date('2026-01-02T03:04:05.000Z')), '2026-01-02T03:04:05Z');
  });

  it('writes the container config in Go\'s order, maps sorted, and ids are the digest of the bytes', () => {
    const rc = runConfigOf({ Cmd: ['sh'], Env: ['PATH=/bin'], Labels: { z: '1', a: '2' }, ExposedPorts: { '90/tcp': {}, '80/tcp': {} } });
    const json = runConfigJson({ ...rc, Image: 'sha256:p' });
    assert.deepEqual(Object.keys(json), [
      'Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin', 'StdinOnce',
      'Env', 'Cmd', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'OnBuild', 'Labels',
    ]);
    assert.deepEqual(Object.keys(json.Labels!), ['a', 'z']);
    assert.deepEqual(Object.keys(json.ExposedPorts!), ['80/tcp', '90/tcp']);
    assert.equal(json.Volumes, null);
    const { bytes, id } = serializeConfig({ rootfs: { type: 'layers', diff_ids: [] }, os: 'linux', architecture: 'amd64', config: json });
    assert.match(bytes.toString(), /^\{"architecture":"amd64","config":\{"Hostname":""/);
    assert.equal(id, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  });

  it('normalizes WORKDIR and EXPOSE as the classic builder does', () => {
    assert.equal(normalizeWorkdir('/srv/app/data', '../logs'), '/srv/app/logs');
    assert.equal(normalizeWorkdir('', 'rel'), '/rel');
    assert.equal(normalizeWorkdir('/a', '/b/c/'), '/b/c');
    assert.deepEqual(exposedPorts(['80', '53/UDP', '7000-7002', '127.0.0.1:8080:81/tcp']),
      ['80/tcp', '53/udp', '7000/tcp', '7001/tcp', '7002/tcp', '81/tcp']);
    assert.throws(() => exposedPorts(['80/xyz']), /Invalid proto: xyz/);
    assert.throws(() => exposedPorts(['99999']), /Invalid containerPort: 99999/);
  });
});

describe('build output', () => {
  it('keeps stages in Dockerfile order while they run at the same time', () => {
    const got: JsonMessage[] = [];
    const out = new OrderedOutput((m) => got.push(m), false);
    const a = out.channel();
    const b = out.channel();
    const c = out.channel();
    b.stream('b1\n');
    a.stream('a1\n');
    c.stream('c1\n');
    b.stderr(Buffer.from('b-err\n'));
    b.close();
    a.stream('a2\n');
    assert.deepEqual(got.map((m) => m.stream), ['a1\n', 'a2\n']);
    a.close();
    assert.deepEqual(got.map((m) => m.stream), ['a1\n', 'a2\n', 'b1\n', '\u001b[91mb-err\n\u001b[0m', 'c1\n']);
    c.stream('c2\n');
    assert.equal(got.at(-1)!.stream, 'c2\n');
    const quiet: JsonMessage[] = [];
    const q = new OrderedOutput((m) => quiet.push(m), true);
    q.channel().stream('hidden');
    q.direct({ stream: 'sha256:x\n' }, true);
    assert.deepEqual(quiet, [{ stream: 'sha256:x\n' }]);
  });
});
