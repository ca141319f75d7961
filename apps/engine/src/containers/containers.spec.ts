// Pure pieces of the container side: create-request checks and image merging, ps status texts and filters,
// names, detach keys, `ps` output filtering, path resolution inside a root, and the stdio framing.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@berth/testing';
import { frame, streamContentType } from '../api/stdcopy.ts';
import { parseEventTime, parseDuration } from '../system/events.ts';
import { resolveInRoot } from './archive.ts';
import { DetachScanner, parseDetachKeys } from './attach.ts';
import { checkCreateRequest, commandOf, mergeImageConfig, validateHostConfig } from './create.ts';
import { humanDuration } from './inspect.ts';
import { NameRegistry } from './names.ts';
import { filterPs } from './top.ts';

describe('container pieces', () => {
  it('checks create requests as dockerd does and merges the image config', () => {
    assert.throws(() => checkCreateRequest(null), /config cannot be empty/);
    assert.throws(() => checkCreateRequest({ Image: 'x', Env: 'A=b' }), /Env must be an array of strings/);
    assert.throws(() => checkCreateRequest({ Image: 'x', HostConfig: { Memory: '1g' } }), /HostConfig\.Memory must be a number/);
    assert.deepEqual(checkCreateRequest({ Image: 'x', Cmd: 'echo' }).Cmd, ['echo']);
    const image = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'], Entrypoint: ['/init'], WorkingDir: '/w' } };
    const m = mergeImageConfig({ Env: ['A=2'] }, image as never);
    assert.deepEqual(m.Env, ['PATH=/bin', 'A=2']);
    assert.deepEqual([m.Entrypoint, m.Cmd, m.WorkingDir], [['/init'], ['sh'], '/w']);
    const e = mergeImageConfig({ Entrypoint: ['echo'] }, image as never);
    assert.deepEqual([e.Entrypoint, e.Cmd], [['echo'], null]);
    assert.deepEqual(commandOf({ Entrypoint: [''], Cmd: ['ls', '-l'] }), { path: 'ls', args: ['-l'] });
    assert.throws(() => commandOf({}), /no command specified/);
    const daemon = { logDriver: 'json-file', logOpts: {} };
    assert.throws(() => validateHostConfig({ RestartPolicy: { Name: 'no', MaximumRetryCount: 3 } }, daemon), /maximum retry count can only be used with 'on-failure'/);
    assert.throws(() => validateHostConfig({ AutoRemove: true, RestartPolicy: { Name: 'always' } }, daemon), /AutoRemove/);
    assert.throws(() => validateHostConfig({ Memory: 1024 }, daemon), /Minimum memory limit allowed is 6MB/);
    assert.throws(() => validateHostConfig({ Memory: 64 << 20, MemorySwap: 1 << 20 }, daemon), /Minimum memoryswap limit should be larger than memory limit/);
    assert.throws(() => validateHostConfig({ NanoCpus: 1e9, CpuQuota: 50000 }, daemon), /Nano CPUs and CPU Quota cannot both be set/);
    assert.throws(() => validateHostConfig({ LogConfig: { Type: 'syslog' } }, daemon), /no log driver named 'syslog'/);
    assert.throws(() => validateHostConfig({ IpcMode: 'weird' }, daemon), /invalid IPC mode: weird/);
  });

  it('prints ages and frames streams as Docker does', () => {
    assert.equal(humanDuration(500), 'Less than a second');
    assert.equal(humanDuration(1000), '1 second');
    assert.equal(humanDuration(59_000), '59 seconds');
    assert.equal(humanDuration(61_000), 'About a minute');
    assert.equal(humanDuration(30 * 60_000), '30 minutes');
    assert.equal(humanDuration(3_600_000), 'About an hour');
    assert.equal(humanDuration(5 * 3_600_000), '5 hours');
    assert.equal(humanDuration(3 * 86_400_000), '3 days');
    assert.deepEqual([...frame(2, Buffer.from('hi'))], [2, 0, 0, 0, 0, 0, 0, 2, 104, 105]);
    assert.equal(streamContentType(false, '1.47'), 'application/vnd.docker.multiplexed-stream');
    assert.equal(streamContentType(false, '1.41'), 'application/vnd.docker.raw-stream');
    assert.equal(streamContentType(true, '1.47'), 'application/vnd.docker.raw-stream');
    assert.equal(parseDuration('1h2m3s'), 3_723_000);
    assert.equal(parseEventTime('1700000000.5'), 1_700_000_000_500_000_000n);
    assert.equal(parseEventTime('10m', 1_000_000)! < 1_000_000n * 1_000_000n, true);
  });

  it('reserves names atomically with Docker\'s messages', () => {
    const n = new NameRegistry();
    assert.equal(n.reserve('web', 'a'.repeat(64)), '/web');
    assert.throws(() => n.reserve('/web', 'b'.repeat(64)), /Conflict\. The container name "\/web" is already in use by container "a{64}"/);
    assert.throws(() => n.reserve('a/b', 'c'), /Invalid container name \(a\/b\)/);
    assert.throws(() => n.reserve('x', 'c'), /Invalid container name/);
    assert.match(n.generate('d'), /^\/[a-z]+_[a-z]+\d?$/);
  });

  it('detach keys stop the attachment and let other bytes through', () => {
    const s = new DetachScanner(parseDetachKeys(undefined));
    assert.deepEqual(s.feed(Buffer.from('ab\x10c')), { data: Buffer.from('ab\x10c'), detach: false });
    const t = new DetachScanner(parseDetachKeys('ctrl-x,y'));
    assert.deepEqual(t.feed(Buffer.from('hi\x18')), { data: Buffer.from('hi'), detach: false });
    assert.deepEqual(t.feed(Buffer.from('y')), { data: Buffer.alloc(0), detach: true });
    assert.throws(() => parseDetachKeys('ctrl-,,'), /Invalid detach keys/);
  });

  it('keeps the container\'s rows of ps output', () => {
    const out = 'UID PID PPID C STIME TTY TIME CMD\nroot 10 1 0 10:00 ? 00:00:00 sleep 300\nroot 11 1 0 10:00 ? 00:00:00 other thing\n';
    assert.deepEqual(filterPs(out, new Set([10])), {
      Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
      Processes: [['root', '10', '1', '0', '10:00', '?', '00:00:00', 'sleep 300']],
    });
    assert.throws(() => filterPs('A B\n1 2\n', new Set()), /Couldn't find PID field/);
  });

  it('resolves paths inside a root without leaving it', () => {
    const d = tempDir('berth-engine-resolve-');
    try {
      const root = d.path;
      mkdirSync(path.join(root, 'etc'));
      writeFileSync(path.join(root, 'etc/passwd'), 'x');
      symlinkSync('/etc', path.join(root, 'abs'));
      symlinkSync('../../..', path.join(root, 'up'));
      symlinkSync('loop2', path.join(root, 'loop1'));
      symlinkSync('loop1', path.join(root, 'loop2'));
      assert.equal(resolveInRoot(root, '/abs/passwd', true), 'etc/passwd');
      assert.equal(resolveInRoot(root, '/up/etc/passwd', true), 'etc/passwd');
      assert.equal(resolveInRoot(root, '/../../etc', true), 'etc');
      assert.equal(resolveInRoot(root, '/abs', false), 'abs');
      assert.throws(() => resolveInRoot(root, '/loop1/x', true), /too many levels of symbolic links/);
    } finally {
      d[Symbol.dispose]();
    }
  });
});
