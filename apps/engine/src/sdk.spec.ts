// Client libraries against berthd: dockerode (unversioned paths, hijacked and plain streams), testcontainers
// (offline: TESTCONTAINERS_RYUK_DISABLED=true) and docker-py (Debian's python3-docker). Needs root and the
// loopback registry.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { run } from '@berth/testing';
import { startBerthd, type TestDaemon } from './test-support.ts';

describe('client libraries against berthd', { concurrency: 3 }, () => {
  let berth: TestDaemon;
  let docker: Docker;

  before(async () => {
    berth = await startBerthd();
    docker = new Docker({ socketPath: berth.socket });
    const r = await berth.docker(['pull', '-q', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await berth?.stop();
  });

  it('dockerode: ping, pull, create/attach/start/wait, exec (hijacked and plain), logs, list, remove', async () => {
    assert.equal(String(await docker.ping()), 'OK');
    assert.equal((await docker.version()).ApiVersion, '1.47');
    const stream = await docker.pull('busybox:latest');
    const events = await new Promise<unknown[]>((resolve, reject) => {
      docker.modem.followProgress(stream, (err, res) => (err ? reject(err) : resolve(res)));
    });
    assert.ok(events.some((e) => /Status: Image is up to date for busybox:latest/.test(String((e as { status?: string }).status))));

    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 4'], AttachStdout: true, AttachStderr: true });
    const att = await c.attach({ stream: true, stdout: true, stderr: true, hijack: true });
    const out = new PassThrough();
    const err = new PassThrough();
    let o = '';
    let e = '';
    out.on('data', (d: Buffer) => (o += d.toString()));
    err.on('data', (d: Buffer) => (e += d.toString()));
    c.modem.demuxStream(att, out, err);
    const waited = c.wait({ condition: 'next-exit' });
    await c.start();
    assert.deepEqual(await waited, { StatusCode: 4 });
    await new Promise((r) => att.on('end', r));
    assert.equal(o, 'out\n');
    assert.equal(e, 'err\n');
    await c.remove();

    const s = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '300'], Labels: { sdk: 'dockerode' } });
    await s.start();
    for (const hijack of [true, false]) {
      const ex = await s.exec({ Cmd: ['sh', '-c', 'echo exec-out; exit 3'], AttachStdout: true, AttachStderr: true });
      const es = await ex.start({ hijack, stdin: false });
      const buf = new PassThrough();
      let text = '';
      buf.on('data', (d: Buffer) => (text += d.toString()));
      s.modem.demuxStream(es, buf, buf);
      await new Promise((r) => es.on('end', r));
      assert.equal(text, 'exec-out\n', `hijack=${hijack}`);
      assert.equal((await ex.inspect()).ExitCode, 3);
    }
    const list = await docker.listContainers({ filters: { label: ['sdk=dockerode'] } });
    assert.equal(list.length, 1);
    assert.equal(list[0]!.Id, s.id);
    assert.equal((await s.inspect()).State.Running, true);
    await s.stop({ t: 0 });
    await s.remove();
    await assert.rejects(s.inspect(), (x: { statusCode?: number }) => x.statusCode === 404);
  });

  it('testcontainers: start, exec, logs, stop', async () => {
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    process.env.DOCKER_HOST = berth.host;
    process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';
    const { GenericContainer } = await import('testcontainers');
    const started = await new GenericContainer('busybox')
      .withCommand(['sh', '-c', 'echo ready; sleep 300'])
      .withLabels({ sdk: 'testcontainers' })
      .start();
    try {
      const r = await started.exec(['sh', '-c', 'echo from-exec; exit 2']);
      assert.equal(r.exitCode, 2);
      assert.equal(r.output, 'from-exec\n');
      const logs = await started.logs();
      const text = await new Promise<string>((resolve) => {
        let acc = '';
        logs.on('data', (d: Buffer | string) => {
          acc += d.toString();
          if (acc.includes('ready')) resolve(acc);
        });
      });
      assert.match(text, /ready/);
      logs.destroy?.();
    } finally {
      await started.stop({ timeout: 0 });
    }
    const left = await docker.listContainers({ all: true, filters: { label: ['sdk=testcontainers'] } });
    assert.equal(left.length, 0, 'stop removed the container');
  });

  it('docker-py: run, detached exec, logs, images', async () => {
    const script = `
import docker, sys
c = docker.DockerClient(base_url='unix://${berth.socket}')
assert c.ping()
out = c.containers.run('busybox', ['sh', '-c', 'echo py-run'], remove=True)
assert out == b'py-run\\n', out
k = c.containers.run('busybox', ['sleep', '300'], detach=True, labels={'sdk': 'py'})
code, output = k.exec_run(['sh', '-c', 'echo py-exec; exit 5'])
assert code == 5 and output == b'py-exec\\n', (code, output)
k.reload()
assert k.status == 'running', k.status
assert any(i.tags and 'busybox:latest' in i.tags for i in c.images.list())
k.stop(timeout=0)
k.wait()
assert k.logs() == b''
k.remove()
c.containers.run('busybox', ['sh', '-c', 'exit 9'], remove=True)
`;
    const r = await run('python3', ['-c', script]);
    // The last run raises ContainerError with the exit status: that is the expected end.
    assert.match(r.stderr, /ContainerError: Command '\['sh', '-c', 'exit 9'\]' in image 'busybox' returned non-zero exit status 9/, r.stderr);
  });
});
