// berthd's command line and daemon.json: dockerd's key names, precedence and refusals.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '@berth/testing';
import { parseBytes, parseCommandLine, parseUlimit } from './config.ts';
import { checkHosts, parseHostAddress } from './listeners.ts';

describe('berthd configuration', () => {
  const dir = tempDir('berth-engine-config-');
  after(() => dir[Symbol.dispose]());
  const file = (name: string, content: unknown) => {
    const p = path.join(dir.path, name);
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
    return p;
  };

  it('reads dockerd\'s daemon.json keys and lets flags fill the rest', () => {
    const cfg = file('ok.json', {
      'hosts': ['unix:///run/x.sock'], 'data-root': '/srv/berth', 'registry-mirrors': ['http://127.0.0.1:5000'],
      'insecure-registries': ['127.0.0.1:5000'], 'log-level': 'warn', 'bip': '10.9.0.1/24', 'default-ulimits': { nofile: { Name: 'nofile', Soft: 10, Hard: 20 } },
      'log-opts': { 'max-size': '10m' }, 'live-restore': true, 'max-concurrent-downloads': 3,
    });
    const { config } = parseCommandLine(['--config-file', cfg, '--exec-root', '/run/other', '--iptables=false', '-D']);
    assert.deepEqual(config.hosts, ['unix:///run/x.sock']);
    assert.equal(config.dataRoot, '/srv/berth');
    assert.equal(config.execRoot, '/run/other');
    assert.deepEqual(config.registryMirrors, ['http://127.0.0.1:5000']);
    assert.equal(config.bip, '10.9.0.1/24');
    assert.equal(config.iptables, false);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.defaultUlimits.nofile!.Hard, 20);
    assert.equal(config.logOpts['max-size'], '10m');
    assert.equal(config.pidfile, '/run/other/berthd.pid');
    assert.equal(config.bridgeDirectDelivery, true);
    assert.equal(parseCommandLine(['--bridge-direct-delivery=false']).config.bridgeDirectDelivery, false);
    assert.equal(parseCommandLine(['--config-file', file('dd.json', { 'bridge-direct-delivery': false })]).config.bridgeDirectDelivery, false);
  });

  it('refuses keys given twice, unknown keys, bad JSON and bad values', () => {
    assert.throws(() => parseCommandLine(['--config-file', file('c.json', { 'log-level': 'warn' }), '--log-level', 'info']),
      /specified both as a flag and in the configuration file: log-level/);
    assert.throws(() => parseCommandLine(['--config-file', file('u.json', { colour: 'blue' })]), /don't match any configuration option: colour/);
    assert.throws(() => parseCommandLine(['--config-file', file('b.json', '{')]), /unable to configure the daemon with file/);
    assert.throws(() => parseCommandLine(['--config-file', file('t.json', { hosts: 5 })]), /must be a list of strings/);
    assert.throws(() => parseCommandLine(['--config-file', file('e.json', {}), '--registry-mirror', 'ftp://x']), /invalid mirror/);
    assert.throws(() => parseCommandLine(['--config-file', file('e2.json', {}), '--log-driver', 'syslog']), /no log driver named 'syslog'/);
    assert.throws(() => parseCommandLine(['--config-file', file('e3.json', {}), '--no-such-flag']), /Unknown option/);
    // A missing default file is fine; a missing explicit one is not.
    assert.throws(() => parseCommandLine(['--config-file', path.join(dir.path, 'absent.json')]), /unable to configure/);
    assert.doesNotThrow(() => parseCommandLine([], { BERTH_CONFIG_FILE: path.join(dir.path, 'absent.json') }));
  });

  it('parses sizes, ulimits and listen addresses as dockerd does', () => {
    assert.equal(parseBytes('64m'), 64 * 1024 * 1024);
    assert.equal(parseBytes('1g'), 1024 ** 3);
    assert.equal(parseBytes('512'), 512);
    assert.equal(parseBytes('lots'), undefined);
    assert.deepEqual(parseUlimit('nofile=1024:2048'), { Name: 'nofile', Soft: 1024, Hard: 2048 });
    assert.deepEqual(parseUlimit('nproc=10'), { Name: 'nproc', Soft: 10, Hard: 10 });
    assert.deepEqual(parseHostAddress('tcp://127.0.0.1', false), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
    assert.deepEqual(parseHostAddress('tcp://:2376', true), { kind: 'tcp', host: '0.0.0.0', port: 2376 });
    assert.deepEqual(parseHostAddress('unix:///run/b.sock', false), { kind: 'unix', path: '/run/b.sock' });
    assert.throws(() => parseHostAddress('fd://', false), /not supported/);
    const { config } = parseCommandLine(['--config-file', file('h.json', {}), '-H', 'tcp://10.0.0.1:2375']);
    assert.throws(() => checkHosts(config), /refusing to listen on tcp:\/\/10\.0\.0\.1:2375 without --tlsverify/);
    const lo = parseCommandLine(['--config-file', file('h2.json', {}), '-H', 'tcp://127.0.0.1:2375']).config;
    assert.doesNotThrow(() => checkHosts(lo));
    const tls = parseCommandLine(['--config-file', file('h3.json', {}), '-H', 'tcp://0.0.0.0:2376', '--tlsverify', '--tlscert', '/nope']).config;
    assert.throws(() => checkHosts(tls), /--tlscert \/nope: no such file/);
  });
});
