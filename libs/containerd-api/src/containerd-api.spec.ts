import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from '@berth/errdefs';
import { tempDir } from '@berth/testing';
import {
  RuntimedClient, addService, createServer, grpcPackageDefinition, packJson, packMessage, serverStream, timestampFromIso, toTimestamp,
  unary, unpackJson, unpackMessage, SPEC_TYPE_URL,
} from './index.ts';

describe('containerd API protos', () => {
  it('loads every containerd service from the Debian package and berth\'s own', () => {
    const def = grpcPackageDefinition();
    for (const svc of ['version.v1.Version', 'content.v1.Content', 'tasks.v1.Tasks', 'snapshots.v1.Snapshots', 'namespaces.v1.Namespaces']) {
      assert.ok(def[`containerd.services.${svc}`], svc);
    }
    assert.ok(def['berth.jobs.v1.Pull']);
    assert.ok(def['containerd.events.TaskExit']);
  });

  it('packs events as protobuf Any and JSON specs as containerd does', () => {
    const any = packMessage('containerd.events.TaskExit', { containerId: 'c1', id: 'c1', pid: 42, exitStatus: 3, exitedAt: toTimestamp(1000) });
    assert.equal(any.type_url, 'containerd.events.TaskExit');
    const back = unpackMessage(any);
    assert.equal(back.containerId, 'c1');
    assert.equal(back.exitStatus, 3);
    assert.deepEqual(back.exitedAt, { seconds: 1, nanos: 0 });
    const spec = packJson(SPEC_TYPE_URL, { ociVersion: '1.0.2' });
    assert.deepEqual(unpackJson(spec), { ociVersion: '1.0.2' });
    assert.deepEqual(timestampFromIso('2024-01-02T03:04:05.123456789Z'), { seconds: 1704164645, nanos: 123456789 });
  });
});

describe('server helpers and RuntimedClient', () => {
  it('carries the namespace, maps errors to containerd codes and back, and streams', async () => {
    using dir = tempDir();
    const sock = path.join(dir.path, 'api.sock');
    const server = createServer();
    const seen: string[] = [];
    addService(server, 'containerd.services.namespaces.v1.Namespaces', {
      Get: unary((req: { name: string }, call) => {
        seen.push(call.namespace());
        if (req.name === 'missing') throw new NotFoundError('namespace missing: not found');
        if (req.name === 'dup') throw new AlreadyExistsError('namespace dup: already exists');
        return { namespace: { name: req.name, labels: { a: 'b' } } };
      }),
    });
    addService(server, 'containerd.services.content.v1.Content', {
      Read: serverStream(async (req: { digest: string }, _call, send) => {
        for (let i = 0; i < 3; i++) await send({ offset: i, data: Buffer.from(`${req.digest}${i}`) });
      }),
      Info: unary((_req, call) => {
        call.namespace();
        return { info: { digest: 'sha256:x', size: 1, labels: {} } };
      }),
    });
    await server.listen(sock);
    const client = new RuntimedClient(sock, { namespace: 'berth' });
    try {
      const ns = await client.namespaces.get('x');
      assert.deepEqual(ns, { name: 'x', labels: { a: 'b' } });
      assert.deepEqual(seen, ['berth']);
      await assert.rejects(client.namespaces.get('missing'), (err: Error) => err instanceof NotFoundError && /missing: not found/.test(err.message));
      await assert.rejects(client.namespaces.get('dup'), AlreadyExistsError);
      assert.equal((await client.content.readAll('d')).toString(), 'd0d1d2');
      // Unimplemented methods surface as errors, not hangs.
      await assert.rejects(client.content.status('r'));
      assert.equal((await client.withNamespace('other').content.info('sha256:x')).size, 1);
      const noNs = new RuntimedClient(sock, { namespace: '' });
      await assert.rejects(noNs.content.info('sha256:x'), FailedPreconditionError);
      noNs.close();
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
