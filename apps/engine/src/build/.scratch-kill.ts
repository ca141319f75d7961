import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RuntimedClient } from '@berth/containerd-api';
import { waitFor } from '@berth/testing';
import { startBerthd } from '../test-support.ts';
const d = await startBerthd();
try {
  const rt = new RuntimedClient(path.join(d.execRoot, 'runtimed.sock'), { namespace: 'berth' });
  await d.docker(['pull', '-q', 'busybox']);
  const ctx = mkdtempSync('/tmp/bx/kill-');
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN sleep 120\n');
  const b = d.docker(['build', ctx], { env: { DOCKER_BUILDKIT: '0' } });
  await waitFor(async () => (await rt.containers.list()).some((c) => c.labels['io.berth.build']), 'ctr', 30000, 100);
  await d.kill9();
  console.log('build exit', (await b).code);
  await d.restart();
  await new Promise((r) => setTimeout(r, 5000));
  console.log((await rt.containers.list()).map((c) => [c.id, c.labels]));
  console.log((await rt.leases.list()).map((l) => [l.id, l.labels]));
  const log = readFileSync(d.logFile, 'utf8').split('\n').filter((l) => /cleanup|interrupted|error/i.test(l)).slice(-10);
  console.log(log.join('\n'));
  rt.close();
} finally {
  await d.stop();
}
