import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgv } from '../framework/parser.ts';
import { CONTAINER_FLAGS, type ContainerFlagValues } from './run-flags.ts';
import { buildCreateSpec, parseMount, parsePublish, parseRestart } from './run-options.ts';

function spec(argv: string[]) {
  const r = parseArgv(argv, CONTAINER_FLAGS, false);
  return buildCreateSpec(r.flags as ContainerFlagValues, r.changed, r.positionals[0]!, r.positionals.slice(1));
}

test('-p forms', () => {
  assert.deepEqual(parsePublish('80'), [['80/tcp', { HostIp: '', HostPort: '' }]]);
  assert.deepEqual(parsePublish('8080:80/udp'), [['80/udp', { HostIp: '', HostPort: '8080' }]]);
  assert.deepEqual(parsePublish('127.0.0.1:8080:80'), [['80/tcp', { HostIp: '127.0.0.1', HostPort: '8080' }]]);
  assert.deepEqual(parsePublish('127.0.0.1::80'), [['80/tcp', { HostIp: '127.0.0.1', HostPort: '' }]]);
  assert.deepEqual(parsePublish('[::1]:8080:80'), [['80/tcp', { HostIp: '::1', HostPort: '8080' }]]);
  assert.deepEqual(parsePublish('8000-8001:80-81').map(([k, b]) => `${k}=${b.HostPort}`), ['80/tcp=8000', '81/tcp=8001']);
  assert.throws(() => parsePublish('abc'), /invalid containerPort: abc/);
  assert.throws(() => parsePublish('80/xyz'), /invalid proto/);
});

test('restart policies and mounts', () => {
  assert.deepEqual(parseRestart('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.deepEqual(parseRestart('always'), { Name: 'always', MaximumRetryCount: 0 });
  assert.throws(() => parseRestart('always:2'), /only be used with 'on-failure'/);
  assert.throws(() => parseRestart('sometimes'), /unknown policy 'sometimes'/);
  assert.deepEqual(parseMount('type=bind,source=/a,target=/b,readonly'), { Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true });
  assert.deepEqual(parseMount('type=tmpfs,dst=/t,tmpfs-size=1m'), { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024 * 1024 } });
  assert.throws(() => parseMount('type=bind,source=/a'), /target is required/);
});

test('the create body docker would send', () => {
  const s = spec(['-it', '--rm', '--name', 'web', '-e', 'A=1', '-v', '/tmp:/x:ro', '-v', '/anon', '-p', '8080:80', '-m', '64m', '--cpus', '1.5',
    '-l', 'k=v', '--restart', 'no', '--entrypoint', '', '--health-cmd', 'true', '--health-interval', '5s', 'busybox', 'sh', '-c', 'x']);
  const b = s.body;
  assert.equal(s.name, 'web');
  assert.equal(b.Image, 'busybox');
  assert.deepEqual(b.Cmd, ['sh', '-c', 'x']);
  assert.deepEqual(b.Entrypoint, ['']);
  assert.equal(b.Tty, true);
  assert.equal(b.OpenStdin, true);
  assert.equal(b.AttachStdin, true);
  assert.equal(b.StdinOnce, true);
  assert.deepEqual(b.Env, ['A=1']);
  assert.deepEqual(b.Labels, { k: 'v' });
  assert.deepEqual(b.Volumes, { '/anon': {} });
  assert.deepEqual(b.ExposedPorts, { '80/tcp': {} });
  assert.deepEqual(b.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Timeout: 0, StartPeriod: 0, StartInterval: 0, Retries: 0 });
  const h = b.HostConfig!;
  assert.deepEqual(h.Binds, ['/tmp:/x:ro']);
  assert.deepEqual(h.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
  assert.equal(h.Memory, 64 * 1024 * 1024);
  assert.equal(h.NanoCpus, 1.5e9);
  assert.equal(h.AutoRemove, true);
  assert.equal(h.NetworkMode, 'default');
  assert.deepEqual(h.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
});

test('invalid values are docker\'s option errors (exit 125)', () => {
  assert.throws(() => spec(['-m', 'lots', 'busybox']), (e: unknown) => (e as { exit: number }).exit === 125 && /invalid size: 'lots'/.test(String(e)));
  assert.throws(() => spec(['--cpus', 'x', 'busybox']), /failed to parse x as a rational number/);
  assert.throws(() => spec(['-a', 'stdfoo', 'busybox']), /valid streams are STDIN, STDOUT and STDERR/);
});
