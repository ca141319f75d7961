import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyChanges, splitWords } from './changes.ts';

describe('--change instructions', () => {
  it('applies CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, ONBUILD, HEALTHCHECK', () => {
    const c = applyChanges({ Env: ['PATH=/bin', 'A=1'], WorkingDir: '/srv' }, [
      'CMD ["/bin/sh", "-c", "echo hi"]',
      'ENTRYPOINT /docker-entrypoint.sh --flag',
      'ENV A=2 B="two words" C=x\\ y',
      'env LEGACY value with spaces',
      'LABEL org.example.a=1 "b c"=d',
      'EXPOSE 80 53/udp 8000-8001',
      'VOLUME ["/data", "/logs"]',
      'USER 1000:1000',
      'WORKDIR app',
      'STOPSIGNAL SIGQUIT',
      'ONBUILD RUN make',
      'HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/',
    ]);
    assert.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo hi']);
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', '/docker-entrypoint.sh --flag']);
    assert.deepEqual(c.Env, ['PATH=/bin', 'A=2', 'B=two words', 'C=x y', 'LEGACY=value with spaces']);
    assert.deepEqual(c.Labels, { 'org.example.a': '1', 'b c': 'd' });
    assert.deepEqual(Object.keys(c.ExposedPorts ?? {}), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp']);
    assert.deepEqual(Object.keys(c.Volumes ?? {}), ['/data', '/logs']);
    assert.equal(c.User, '1000:1000');
    assert.equal(c.WorkingDir, '/srv/app');
    assert.equal(c.StopSignal, 'SIGQUIT');
    assert.deepEqual(c.OnBuild, ['RUN make']);
    assert.deepEqual(c.Healthcheck, { Interval: 5e9, Retries: 3, Test: ['CMD-SHELL', 'curl -f http://localhost/'] });
  });

  it('refuses instructions that are not config changes, with Docker message', () => {
    assert.throws(() => applyChanges({}, ['RUN echo hi']), { name: 'InvalidArgumentError', message: 'RUN is not a valid change command' });
    assert.throws(() => applyChanges({}, ['EXPOSE abc']), /invalid containerPort: abc/);
    assert.throws(() => applyChanges({}, ['ENV A="unterminated']), /unmatched quote/);
  });

  it('splits words with quotes and escapes', () => {
    assert.deepEqual(splitWords(`a "b c" 'd "e"' f\\ g ""`), ['a', 'b c', 'd "e"', 'f g', '']);
  });
});
