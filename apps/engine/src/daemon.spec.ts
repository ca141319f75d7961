// berthd as an operator sees it: the socket's mode and group, TCP only with TLS client certificates (plain TCP
// refused off loopback), daemon.json with dockerd's rules, graceful shutdown and kill -9 with live restore,
// restart policies across daemon restarts, health checks. Needs root and the loopback registry.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, tempDir, waitFor } from '@berth/testing';
import { Agent, WebSocket } from 'undici';
import { runCli, startBerthd, type TestDaemon } from './test-support.ts';

const MAIN = path.join(import.meta.dirname, 'main.ts');

/** berthd with arguments that must make it refuse to start: its exit code and stderr. */
function refuse(args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env } });
  return { code: r.status, stderr: r.stderr };
}

describe('berthd configuration and listening', () => {
  let dir: { path: string } & Disposable;
  let empty: string;

  before(() => {
    dir = tempDir('berth-engine-daemon-');
    empty = path.join(dir.path, 'empty.json');
    writeFileSync(empty, '{}');
  });

  after(() => dir?.[Symbol.dispose]());

  it('refuses plain TCP off loopback, before starting anything', () => {
    const r = refuse(['--config-file', empty, '--data-root', path.join(dir.path, 'd1'), '--exec-root', '/run/bte-refuse', '-H', 'tcp://0.0.0.0:23750']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refusing to listen on tcp:\/\/0\.0\.0\.0:23750 without --tlsverify/);
    assert.equal(existsSync('/run/bte-refuse/runtimed.sock'), false);
  });

  it('applies dockerd\'s daemon.json rules', () => {
    const conflict = path.join(dir.path, 'conflict.json');
    writeFileSync(conflict, JSON.stringify({ 'data-root': '/x', 'registry-mirrors': ['http://127.0.0.1:5000'] }));
    let r = refuse(['--config-file', conflict, '--data-root', '/y']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the following directives are specified both as a flag and in the configuration file: data-root: \(from flag: "\/y", from file: "\/x"\)/);
    const unknown = path.join(dir.path, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ 'no-such-option': true }));
    r = refuse(['--config-file', unknown]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the following directives don't match any configuration option: no-such-option/);
    const bad = path.join(dir.path, 'bad.json');
    writeFileSync(bad, '{"hosts": ');
    r = refuse(['--config-file', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unable to configure the daemon with file/);
    r = refuse(['--config-file', empty, '--log-level', 'loud']);
    assert.match(r.stderr, /unable to parse logging level: loud/);
    const ok = spawnSync(process.execPath, [MAIN, '--config-file', conflict, '--validate'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
  });
});

describe('berthd listeners, restarts and health', { concurrency: false }, () => {
  let berth: TestDaemon;
  let tcpPort: number;
  let certs: { path: string } & Disposable;

  before(async () => {
    certs = tempDir('berth-engine-tls-');
    tcpPort = await freePort();
    // TLS material: a CA, a server certificate for 127.0.0.1, a client certificate.
    const o = (args: string[]) => execFileSync('openssl', args, { cwd: certs.path, stdio: 'pipe' });
    o(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=berth-test-ca']);
    o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    writeFileSync(path.join(certs.path, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'ext.cnf']);
    o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client-key.pem', '-out', 'client.csr', '-subj', '/CN=client']);
    writeFileSync(path.join(certs.path, 'client.cnf'), 'extendedKeyUsage=clientAuth\n');
    o(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'client-cert.pem', '-days', '2', '-extfile', 'client.cnf']);
    berth = await startBerthd({
      extraArgs: ['-H', `tcp://127.0.0.1:${tcpPort}`, '--tlsverify', '--tlscacert', path.join(certs.path, 'ca.pem'),
        '--tlscert', path.join(certs.path, 'cert.pem'), '--tlskey', path.join(certs.path, 'key.pem'), '--group', 'daemon'],
    });
    const r = await berth.docker(['pull', '-q', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await berth?.stop();
    certs?.[Symbol.dispose]();
  });

  it('the unix socket is 0660 with the configured group', () => {
    const st = statSync(berth.socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    const daemonGid = Number(readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('daemon:'))!.split(':')[2]);
    assert.equal(st.gid, daemonGid);
  });

  it('TCP requires a client certificate signed by the CA', async () => {
    const env = { ...process.env, DOCKER_HOST: `tcp://127.0.0.1:${tcpPort}`, DOCKER_CONFIG: path.join(certs.path, 'cfg') };
    const withCert = await runCli('docker', ['--tlsverify', '--tlscacert', path.join(certs.path, 'ca.pem'), '--tlscert', path.join(certs.path, 'client-cert.pem'),
      '--tlskey', path.join(certs.path, 'client-key.pem'), 'version', '--format', '{{.Server.Version}}'], env, undefined, 30_000);
    assert.equal(withCert.code, 0, withCert.stderr);
    assert.equal(withCert.stdout.trim(), '0.1.0');
    const noCert = await runCli('docker', ['--tlsverify', '--tlscacert', path.join(certs.path, 'ca.pem'), 'version'], env, undefined, 30_000);
    assert.notEqual(noCert.code, 0);
    const plain = await runCli('docker', ['version'], env, undefined, 30_000);
    assert.notEqual(plain.code, 0);
  });

  it('graceful shutdown and kill -9 leave containers running; a restart picks them up', async () => {
    const id = (await berth.docker(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'i=0; while true; do echo n$i; i=$((i+1)); sleep 0.2; done'])).stdout.trim();
    const shortLived = (await berth.docker(['run', '-d', '--name', 'exits-while-away', 'busybox', 'sh', '-c', 'sleep 2; exit 5'])).stdout.trim();
    const pid = Number((await berth.docker(['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim());
    assert.ok(pid > 0);
    await berth.shutdown();
    assert.ok(existsSync(`/proc/${pid}`), 'the container survives a graceful stop');
    await berth.restart();
    assert.equal((await berth.docker(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', id])).stdout.trim(), `running ${pid}`);
    await berth.kill9();
    assert.ok(existsSync(`/proc/${pid}`), 'the container survives kill -9 of the engine');
    await new Promise((r) => setTimeout(r, 2500));
    await berth.restart();
    assert.equal((await berth.docker(['inspect', '-f', '{{.State.Status}}', id])).stdout.trim(), 'running');
    await waitFor(async () => (await berth.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', shortLived])).stdout.trim() === 'exited 5',
      'the exit that happened while the engine was down', 15_000);
    const logs = (await berth.docker(['logs', '--tail', '3', id])).stdout;
    assert.match(logs, /^n\d+\n/);
    const exec = await berth.docker(['exec', id, 'echo', 'still-there']);
    assert.equal(exec.stdout, 'still-there\n');
    const stop = await berth.docker(['stop', '-t', '1', id]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await berth.docker(['rm', id, shortLived])).code, 0);
  });

  it('restart policies apply across daemon restarts', async () => {
    const always = (await berth.docker(['run', '-d', '--restart', 'always', 'busybox', 'sleep', '300'])).stdout.trim();
    const unless = (await berth.docker(['run', '-d', '--restart', 'unless-stopped', 'busybox', 'sleep', '300'])).stdout.trim();
    const none = (await berth.docker(['run', '-d', 'busybox', 'sleep', '300'])).stdout.trim();
    for (const c of [always, unless]) assert.equal((await berth.docker(['stop', '-t', '0', c])).code, 0);
    await berth.shutdown();
    await berth.restart();
    await waitFor(async () => (await berth.docker(['inspect', '-f', '{{.State.Status}}', always])).stdout.trim() === 'running',
      'the "always" container started again by the daemon', 20_000);
    assert.equal((await berth.docker(['inspect', '-f', '{{.State.Status}}', unless])).stdout.trim(), 'exited', 'unless-stopped stays stopped after a manual stop');
    assert.equal((await berth.docker(['inspect', '-f', '{{.State.Status}}', none])).stdout.trim(), 'running');
    assert.equal((await berth.docker(['rm', '-f', always, unless, none])).code, 0);
  });

  it('health checks run and show in inspect and ps', async () => {
    const id = (await berth.docker(['run', '-d', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '300ms', '--health-retries', '2',
      '--health-timeout', '2s', 'busybox', 'sleep', '300'])).stdout.trim();
    const health = async () => (await berth.docker(['inspect', '-f', '{{.State.Health.Status}}', id])).stdout.trim();
    await waitFor(async () => (await health()) === 'unhealthy', 'unhealthy', 15_000);
    assert.equal((await berth.docker(['exec', id, 'touch', '/tmp/ok'])).code, 0);
    await waitFor(async () => (await health()) === 'healthy', 'healthy', 15_000);
    assert.match((await berth.docker(['ps', '--filter', `id=${id}`, '--format', '{{.Status}}'])).stdout, /\(healthy\)/);
    assert.equal((await berth.docker(['ps', '-q', '--filter', 'health=healthy', '--filter', `id=${id}`])).stdout.trim(), id.slice(0, 12));
    const log = JSON.parse((await berth.docker(['inspect', '-f', '{{json .State.Health.Log}}', id])).stdout) as { ExitCode: number }[];
    assert.ok(log.length >= 1 && log.length <= 5);
    assert.equal(log[log.length - 1]!.ExitCode, 0);
    const since = Math.floor(Date.now() / 1000) - 20;
    const ev = (await berth.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', `container=${id}`,
      '--filter', 'event=health_status', '--format', '{{.Action}}'])).stdout;
    assert.match(ev, /health_status: unhealthy/);
    assert.match(ev, /health_status: healthy/);
    assert.equal((await berth.docker(['rm', '-f', id])).code, 0);
  });
});

describe('berthd with --bridge none', () => {
  let berth: TestDaemon;
  before(async () => {
    berth = await startBerthd({ extraArgs: ['--bridge', 'none'] });
  });
  after(async () => {
    await berth?.stop();
  });

  it('runs containers with loopback only and publishes nothing, as dockerd does', async () => {
    const nets = await berth.docker(['network', 'ls', '--format', '{{.Name}}']);
    assert.deepEqual(nets.stdout.trim().split('\n').sort(), ['host', 'none']);
    const r = await berth.docker(['run', '--rm', 'busybox', 'sh', '-c', 'ls /sys/class/net']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'lo');
    const p = await berth.docker(['run', '-d', '--name', 'bn-ports', '-p', '80', 'busybox', 'sleep', '60']);
    assert.equal(p.code, 0, p.stderr);
    assert.equal((await berth.docker(['port', 'bn-ports'])).stdout.trim(), '');
    await berth.docker(['rm', '-f', 'bn-ports']);
  });

  it('attaches over a websocket (GET /containers/{id}/attach/ws) with a standard client', async () => {
    const id = (await berth.docker(['run', '-di', 'busybox', 'sh', '-c', 'echo ready; while read l; do echo "got $l"; echo "err $l" >&2; done'])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const dispatcher = new Agent({ connect: { socketPath: berth.socket } });
    try {
      const ws = new WebSocket(`ws://localhost/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1`, { dispatcher });
      ws.binaryType = 'arraybuffer';
      let received = '';
      const seen = new Promise<void>((resolve, reject) => {
        ws.addEventListener('message', (e) => {
          received += typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer).toString();
          if (/got hello[\s\S]*err hello|err hello[\s\S]*got hello/.test(received)) resolve();
        });
        ws.addEventListener('error', () => reject(new Error('websocket error')));
      });
      await new Promise<void>((resolve, reject) => {
        ws.addEventListener('open', () => resolve());
        ws.addEventListener('error', () => reject(new Error('the websocket did not open')));
      });
      ws.send(new TextEncoder().encode('hello\n'));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([seen, new Promise((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`no echo; got ${JSON.stringify(received)}`)), 15_000);
      })]).finally(() => clearTimeout(timer));
      // not multiplexed: the bytes are the container's output as it wrote them
      assert.equal(received.includes('\u0001\u0000\u0000\u0000'), false);
      const closed = new Promise<number>((resolve) => ws.addEventListener('close', (e) => resolve(e.code)));
      ws.close(1000);
      assert.equal(await closed, 1000);
    } finally {
      await dispatcher.close();
    }
    // without an upgrade: a 400 with Docker's error body
    const plain = await berth.request('GET', `/containers/${id}/attach/ws?stream=1`);
    assert.equal(plain.status, 400);
    assert.match(JSON.parse(plain.body).message, /websocket upgrade is required/);
    await berth.docker(['rm', '-f', id]);
  });
});
