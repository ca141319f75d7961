// The client against a real dockerd on a private socket: version negotiation, the run flow over hijacked
// attach (multiplexed output), exec, logs, progress streams, errors.
import { startDockerd, tempDir, type PrivateDockerd } from '@berth/testing';
import assert from 'node:assert/strict';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { DockerClient, daemonStatus, readText } from './client.ts';
import { demuxStream, jsonLines } from './stream.ts';
import type { JSONMessage } from './types/image.ts';

let dockerd: PrivateDockerd;
let tmp: { path: string } & Disposable;
let client: DockerClient;

before(async () => {
  tmp = tempDir('berth-docker-api-');
  dockerd = await startDockerd(path.join(tmp.path, 'dockerd'));
  client = new DockerClient({ host: dockerd.host });
});

after(async () => {
  if (client) {
    for (const c of await client.containers.list({ all: true }).catch(() => [])) {
      await client.containers.remove(c.Id, { force: true }).catch(() => {});
    }
    client.close();
  }
  await dockerd?.stop();
  tmp?.[Symbol.dispose]();
});

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const parts: Buffer[] = [];
  stream.on('data', (d: Buffer) => parts.push(d));
  return { stream, text: () => Buffer.concat(parts).toString() };
}

describe('DockerClient against dockerd', () => {
  test('ping and negotiation', async () => {
    const p = await client.ping();
    assert.equal(p.osType, 'linux');
    assert.match(p.apiVersion, /^1\.\d+$/);
    assert.equal(await client.apiVersion(), p.apiVersion);
    const v = await client.system.version();
    assert.equal(v.ApiVersion, p.apiVersion);
  });

  test('a too-new pinned version is refused by the daemon', async () => {
    const c = new DockerClient({ host: dockerd.host, version: '1.99' });
    await assert.rejects(c.system.info(), (err: unknown) => daemonStatus(err) === 400 && /too new/.test((err as Error).message));
    c.close();
  });

  test('pull streams JSON progress', async () => {
    const msgs: JSONMessage[] = [];
    for await (const m of jsonLines<JSONMessage>(await client.images.pull('busybox', { tag: 'latest' }))) msgs.push(m);
    assert.ok(msgs.some((m) => /Status: (Downloaded newer image|Image is up to date) for busybox:latest/.test(m.status ?? '')), JSON.stringify(msgs));
    const img = await client.images.inspect('busybox');
    assert.match(img.Id, /^sha256:/);
  });

  test('run flow: create, attach (hijacked, multiplexed), wait armed before start, remove', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], AttachStdout: true, AttachStderr: true });
    const { socket } = await client.containers.attach(Id, { stream: true, stdout: true, stderr: true });
    const waiter = await client.containers.waitArmed(Id, 'next-exit');
    await client.containers.start(Id);
    const out = collect();
    const err = collect();
    await demuxStream(socket as AsyncIterable<Buffer>, out.stream, err.stream);
    assert.equal((await waiter.result).StatusCode, 3);
    assert.equal(out.text(), 'out\n');
    assert.equal(err.text(), 'err\n');
    const logs = collect();
    await demuxStream(await client.containers.logs(Id, { stdout: true, stderr: false }), logs.stream, new PassThrough());
    assert.equal(logs.text(), 'out\n');
    await client.containers.remove(Id);
    await assert.rejects(client.containers.inspect(Id), (e: unknown) => daemonStatus(e) === 404);
  });

  test('stdin through a hijacked attach, half-closed', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true });
    const { socket } = await client.containers.attach(Id, { stream: true, stdin: true, stdout: true });
    const waiter = await client.containers.waitArmed(Id, 'next-exit');
    await client.containers.start(Id);
    socket.end('piped\n');
    const out = collect();
    await demuxStream(socket as AsyncIterable<Buffer>, out.stream, new PassThrough());
    assert.equal(out.text(), 'piped\n');
    assert.equal((await waiter.result).StatusCode, 0);
    await client.containers.remove(Id);
  });

  test('exec: create, start hijacked, inspect exit code', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sleep', '60'] });
    await client.containers.start(Id);
    const ex = await client.exec.create(Id, { Cmd: ['sh', '-c', 'echo $X; exit 4'], Env: ['X=ok'], AttachStdout: true, AttachStderr: true });
    const { socket } = await client.exec.start(ex.Id, {});
    const out = collect();
    await demuxStream(socket as AsyncIterable<Buffer>, out.stream, new PassThrough());
    assert.equal(out.text(), 'ok\n');
    let info = await client.exec.inspect(ex.Id);
    for (let i = 0; i < 20 && info.Running; i++) info = await client.exec.inspect(ex.Id);
    assert.equal(info.ExitCode, 4);
    await client.containers.remove(Id, { force: true });
  });

  test('archive endpoints: stat header and tar body', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['true'] });
    const st = await client.containers.statPath(Id, '/etc/hostname');
    assert.equal(st.name, 'hostname');
    const { body } = await client.containers.getArchive(Id, '/etc/passwd');
    const tar = Buffer.from(await readText(body), 'latin1');
    assert.equal(tar.toString('latin1', 0, 6), 'passwd');
    await client.containers.remove(Id);
  });
});
