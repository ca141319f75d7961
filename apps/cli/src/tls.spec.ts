// berth over TCP with mutual TLS, against a dockerd listening with --tlsverify: the TLS flags, the
// DOCKER_TLS_VERIFY/DOCKER_CERT_PATH environment, and refusal without the right certificates — compared
// with docker's CLI.
import { freePort, startDockerd, tempDir, type PrivateDockerd } from '@berth/testing';
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildBerth, runBerth, runDocker } from './test-support/berth.ts';
import { makeCerts, type TestCerts } from './test-support/certs.ts';

let tmp: { path: string } & Disposable;
let dockerd: PrivateDockerd;
let certs: TestCerts;
let addr: string;

before(async () => {
  buildBerth();
  tmp = tempDir('berth-cli-tls-');
  certs = makeCerts(tmp.path);
  const port = await freePort();
  addr = `tcp://127.0.0.1:${port}`;
  dockerd = await startDockerd(path.join(tmp.path, 'dockerd'), {
    extraArgs: [`--host=${addr}`, '--tlsverify', `--tlscacert=${certs.ca}`, `--tlscert=${certs.serverCert}`, `--tlskey=${certs.serverKey}`],
  });
});

after(async () => {
  await dockerd?.stop();
  tmp?.[Symbol.dispose]();
});

describe('TCP with mutual TLS', () => {
  const base = () => ({ PATH: process.env.PATH, HOME: tmp.path, DOCKER_CONFIG: path.join(tmp.path, 'dc'), BERTH_CONFIG: path.join(tmp.path, 'bc') });
  const format = ['version', '--format', '{{.Server.Version}}'];

  test('--tlsverify with certificate flags', async () => {
    const flags = ['-H', addr, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.clientCert, '--tlskey', certs.clientKey, ...format];
    const d = await runDocker(flags, base());
    const b = await runBerth(flags, base());
    assert.equal(d.code, 0, d.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, d.stdout);
  });

  test('DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', async () => {
    const env = { ...base(), DOCKER_HOST: addr, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.clientDir };
    const d = await runDocker(['ps', '-a', '--format', '{{.ID}}'], env);
    const b = await runBerth(['ps', '-a', '--format', '{{.ID}}'], env);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, d.stdout);
  });

  test('without a client certificate the daemon refuses, and both CLIs fail', async () => {
    const flags = ['-H', addr, '--tlsverify', '--tlscacert', certs.ca, ...format];
    const d = await runDocker(flags, base());
    const b = await runBerth(flags, base());
    assert.notEqual(d.code, 0);
    assert.equal(b.code, d.code, `berth: ${b.stderr}`);
  });

  test('a server certificate from another CA is rejected by --tlsverify', async () => {
    const other = makeCerts(path.join(tmp.path, 'other'));
    const flags = ['-H', addr, '--tlsverify', '--tlscacert', other.ca, '--tlscert', certs.clientCert, '--tlskey', certs.clientKey, ...format];
    const d = await runDocker(flags, base());
    const b = await runBerth(flags, base());
    assert.notEqual(d.code, 0);
    assert.equal(b.code, d.code, `berth: ${b.stderr}`);
    assert.match(b.stderr, /certificate/i);
  });
});
