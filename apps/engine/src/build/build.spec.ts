/**
 * `docker build` (classic API) and `berth build` against berthd, compared with the same Dockerfiles built by a
 * real dockerd (DOCKER_BUILDKIT=0): run output, image config, history and every layer's entries must match.
 * Then the cache (a rebuild is fully cached; a changed file invalidates exactly the steps from the COPY that
 * reads it), failures with Docker's messages and exit codes, and no leftovers (containers, snapshots, leases,
 * mounts) after any of it. Needs root, the shared registry, the docker CLI and dockerd.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RuntimedClient } from '@berth/containerd-api';
import { startDockerd, tempDir, waitFor, type PrivateDockerd } from '@berth/testing';
import { startBerthd, runCli, type TestDaemon } from '../test-support.ts';
import { CORPUS, configOf, contextFor, saveImage, type Cli, type SavedImage } from './build-test-support.ts';

const BERTH_CLI = path.resolve(import.meta.dirname, '../../../cli/src/main.ts');

interface Case {
  name: string;
  /** Corpus directory (default: name). */
  dir?: string;
  args?: string[];
  /** Dockerfile for the reference dockerd when its classic builder cannot read ours (heredocs). */
  classicDockerfile?: string;
  /** `docker run` arguments after the image. */
  runArgs?: string[];
  /** History lines may differ (COPY --from sums use on-disk owners; heredocs are written another way). */
  historyDiffers?: boolean;
}

const CASES: Case[] = [
  { name: 'c-multistage', runArgs: ['a', 'b'] },
  { name: 'dockerignore' },
  { name: 'args-env', args: ['--build-arg', 'TARGET=berth', '--build-arg', 'UNUSED=1'] },
  { name: 'user-workdir' },
  { name: 'onbuild-parent', dir: 'onbuild/parent' },
  { name: 'onbuild-child', dir: 'onbuild/child' },
  { name: 'heredoc', classicDockerfile: 'Dockerfile.classic', historyDiffers: true },
  { name: 'add-tarball' },
  { name: 'config' },
];

describe('building images through berthd', { concurrency: false, timeout: 600_000 }, () => {
  let work: string;
  let berthd: TestDaemon;
  let dockerd: PrivateDockerd;
  let rt: RuntimedClient;
  let hello: string;
  let vendor: string;
  const berthDocker: Cli = (a, o = {}) => berthd.docker(a, { ...o, env: { DOCKER_BUILDKIT: '0', ...(o.env ?? {}) } });
  const realDocker: Cli = (a, o = {}) => runCli('docker', a, { ...dockerd.env, DOCKER_BUILDKIT: '0', ...(o.env ?? {}) }, o.input, o.timeoutMs ?? 180_000);
  const berthCli: Cli = (a, o = {}) =>
    runCli(process.execPath, [BERTH_CLI, ...a], { ...berthd.env, ...(o.env ?? {}) }, o.input, o.timeoutMs ?? 180_000);

  before(async () => {
    work = tempDir('berth-build-spec-').path;
    [berthd, dockerd] = await Promise.all([startBerthd(), startDockerd(path.join(work, 'dockerd'))]);
    rt = new RuntimedClient(path.join(berthd.execRoot, 'runtimed.sock'), { namespace: 'berth' });
    for (const img of ['busybox', 'debian']) {
      const [a, b] = await Promise.all([berthDocker(['pull', '-q', img], { timeoutMs: 180_000 }), realDocker(['pull', '-q', img])]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
    }
    // The C program, compiled here because the debian image has no compiler.
    hello = path.join(work, 'hello');
    execFileSync('gcc', ['-static', '-Os', '-s', '-o', hello, path.join(CORPUS, 'c-multistage', 'hello.c')]);
    // A tarball for ADD with owners, modes, a symlink and fixed times.
    const src = path.join(work, 'vendor-src');
    mkdirSync(path.join(src, 'vendor', 'bin'), { recursive: true });
    writeFileSync(path.join(src, 'vendor', 'VERSION'), '1.2.3\n');
    writeFileSync(path.join(src, 'vendor', 'bin', 'tool'), '#!/bin/sh\necho tool\n', { mode: 0o750 });
    execFileSync('ln', ['-s', 'bin/tool', path.join(src, 'vendor', 'tool')]);
    vendor = path.join(work, 'vendor.tar.gz');
    execFileSync('tar', ['-czf', vendor, '--owner=1000', '--group=1000', '--mtime=2024-01-02 03:04:05', '-C', src, 'vendor']);
  });

  after(async () => {
    rt?.close();
    await berthd?.stop();
    await dockerd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A corpus case's context with its generated files. */
  const context = (c: Case): string => {
    const dir = contextFor(c.dir ?? c.name);
    if (c.name === 'c-multistage') execFileSync('cp', [hello, path.join(dir, 'hello')]);
    if (c.name === 'add-tarball') execFileSync('cp', ['-p', vendor, path.join(dir, 'vendor.tar.gz')]);
    if (c.name === 'dockerignore') writeFileSync(path.join(dir, 'debug.log'), 'noise\n');
    return dir;
  };

  async function compare(c: Case, tag: string): Promise<void> {
    const [a, b] = await Promise.all([saveImage(berthDocker, tag), saveImage(realDocker, tag)]);
    assert.deepEqual(configOf(a.config), configOf(b.config), `${c.name}: config`);
    assert.equal(a.diffIds.length, b.diffIds.length, `${c.name}: number of layers`);
    // Layers with the same diffID hold the same content; the others are compared entry by entry.
    for (let i = 0; i < a.diffIds.length; i++) {
      if (a.diffIds[i] !== b.diffIds[i]) assert.deepEqual(a.layer(i), b.layer(i), `${c.name}: layer ${i}`);
    }
    if (!c.historyDiffers) {
      // dockerd 20.10 forgets the space after `--chown=…` in COPY/ADD history; newer ones write it, as berth does.
      const h = (s: SavedImage) => (s.config.history ?? []).map((e) => `${e.created_by ?? ''}${e.empty_layer ? ' (empty)' : ''}`
        .replace(/(--chown=\S+?) ?((?:file|dir|multi):[0-9a-f]{64})/, '$1 $2'));
      assert.deepEqual(h(a), h(b), `${c.name}: history`);
    }
    const ra = await berthDocker(['run', '--rm', tag, ...(c.runArgs ?? [])]);
    const rb = await realDocker(['run', '--rm', tag, ...(c.runArgs ?? [])]);
    assert.equal(ra.code, rb.code, `${c.name}: run exit code: ${ra.stderr} / ${rb.stderr}`);
    assert.equal(ra.stdout, rb.stdout, `${c.name}: run output`);
  }

  for (const c of CASES) {
    it(`${c.name}: docker build and berth build on berthd match a real dockerd`, async () => {
      const tag = `corpus-${c.name}`;
      const ctx = context(c);
      try {
        const b1 = await berthDocker(['build', '-t', tag, ...(c.args ?? []), ctx], { timeoutMs: 240_000 });
        assert.equal(b1.code, 0, `${b1.stdout}\n${b1.stderr}`);
        const d1 = await realDocker(['build', '-t', tag, ...(c.args ?? []), ...(c.classicDockerfile ? ['-f', path.join(ctx, c.classicDockerfile)] : []), ctx]);
        assert.equal(d1.code, 0, `${d1.stdout}\n${d1.stderr}`);
        // berth's own CLI sends the same context: every step comes from the cache and the image is the same.
        const b2 = await berthCli(['build', '-t', `${tag}-cli`, ...(c.args ?? []), ctx]);
        assert.equal(b2.code, 0, `${b2.stdout}\n${b2.stderr}`);
        const id = (s: string) => /Successfully built ([0-9a-f]{12})/.exec(s)?.[1];
        assert.equal(id(b2.stdout), id(b1.stdout), `berth build gave another image:\n${b2.stdout}`);
        await compare(c, tag);
      } finally {
        rmSync(ctx, { recursive: true, force: true });
      }
    });
  }

  /** For each `Step n/m` of a build's output: whether it came from the cache. */
  const cachedSteps = (out: string): boolean[] => out.split(/^Step \d+\/\d+ : /m).slice(1).map((chunk) => chunk.includes(' ---> Using cache'));

  it('a rebuild is fully cached; a changed file invalidates exactly the steps from the COPY that reads it (as dockerd)', async () => {
    const ctx = context({ name: 'user-workdir' });
    try {
      for (const cli of [berthDocker, realDocker]) {
        const r1 = await cli(['build', '-t', 'cache-test', ctx]);
        assert.equal(r1.code, 0, r1.stderr);
        const r2 = await cli(['build', '-t', 'cache-test', ctx]);
        assert.equal(r2.code, 0, r2.stderr);
        assert.deepEqual(cachedSteps(r2.stdout), [false, ...new Array<boolean>(12).fill(true)], r2.stdout);
        assert.equal(/Successfully built (\w+)/.exec(r2.stdout)?.[1], /Successfully built (\w+)/.exec(r1.stdout)?.[1]);
      }
      writeFileSync(path.join(ctx, 'files', 'nested', 'b.txt'), 'changed\n');
      const patterns: boolean[][] = [];
      for (const cli of [berthDocker, realDocker]) {
        const r3 = await cli(['build', '-t', 'cache-test', ctx]);
        assert.equal(r3.code, 0, r3.stderr);
        patterns.push(cachedSteps(r3.stdout));
      }
      // Steps 2–7 reused, the COPY of files/ (step 8) and everything after it rebuilt.
      assert.deepEqual(patterns[0], [false, true, true, true, true, true, true, false, false, false, false, false, false]);
      assert.deepEqual(patterns[0], patterns[1]);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it('independent stages build at the same time', async () => {
    const ctx = contextFor('stages-concurrent');
    try {
      const token = `t${Date.now()}`;
      const r = await berthDocker(['build', '--build-arg', `TOKEN=${token}`, '-t', 'stages-concurrent', ctx], { timeoutMs: 120_000 });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      // Output stays in Dockerfile order.
      const steps = [...r.stdout.matchAll(/^Step (\d+)\/10 /gm)].map((m) => Number(m[1]));
      assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it('RUN --mount: cache mounts persist, bind mounts are read-only views, tmpfs is private; none leave a trace', async () => {
    const ctx = tempDir('berth-build-mounts-').path;
    try {
      mkdirSync(path.join(ctx, 'files'));
      writeFileSync(path.join(ctx, 'files', 'a.txt'), 'from the context\n');
      writeFileSync(path.join(ctx, 'Dockerfile'), [
        'FROM busybox',
        'RUN --mount=type=cache,target=/cache sh -c \'echo $(( $(cat /cache/n 2>/dev/null || echo 0) + 1 )) > /cache/n; cp /cache/n /count\'',
        'RUN --mount=type=bind,source=files,target=/src sh -c \'cat /src/a.txt > /from-bind; ! touch /src/x 2>/dev/null\'',
        'RUN --mount=type=tmpfs,target=/scratch sh -c \'echo t > /scratch/t; grep -q " /scratch tmpfs" /proc/mounts\'',
        'CMD ["sh", "-c", "cat /count /from-bind; ls /"]',
      ].join('\n'));
      for (const n of ['1', '2']) {
        const r = await berthDocker(['build', '--no-cache', '-t', 'run-mounts', ctx]);
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        const out = await berthDocker(['run', '--rm', 'run-mounts']);
        const lines = out.stdout.split('\n');
        assert.equal(lines[0], n);
        assert.equal(lines[1], 'from the context');
        for (const stub of ['cache', 'src', 'scratch']) assert.ok(!lines.includes(stub), `/${stub} left in the image: ${out.stdout}`);
      }
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it('a step that makes a layer identical to an existing one reuses it', async () => {
    const ctx = tempDir('berth-build-same-').path;
    try {
      writeFileSync(path.join(ctx, 'f.txt'), 'same bytes\n');
      writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY f.txt /\n');
      const ids = [];
      for (let i = 0; i < 2; i++) {
        const r = await berthDocker(['build', '-q', '--no-cache', ctx]);
        assert.equal(r.code, 0, r.stderr);
        ids.push(r.stdout.trim());
      }
      assert.notEqual(ids[0], ids[1]);
      assert.equal((await berthDocker(['run', '--rm', ids[1]!, 'cat', '/f.txt'])).stdout, 'same bytes\n');
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it('--target, --label and -q as docker sends them', async () => {
    const ctx = context({ name: 'c-multistage' });
    try {
      const r = await berthDocker(['build', '-q', '--target', 'check', '--label', 'stage=check', '--label', 'b=2', '-t', 'target-check', ctx]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
      const labels = await berthDocker(['image', 'inspect', '-f', '{{json .Config.Labels}}', 'target-check']);
      assert.deepEqual(JSON.parse(labels.stdout), { b: '2', stage: 'check' });
      const bad = await berthDocker(['build', '--target', 'nope', ctx]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /target stage "nope" could not be found/);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it('failures stop the build with Docker\'s messages and exit codes and leave nothing behind', async () => {
    const ctx = tempDir('berth-build-fail-').path;
    const attempt = async (dockerfile: string, cli: Cli = berthDocker) => {
      writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile);
      return cli(['build', ctx]);
    };
    try {
      for (const cli of [berthDocker, realDocker]) {
        const r = await attempt('FROM busybox\nRUN echo before\nRUN exit 3\n', cli);
        assert.equal(r.code, 3);
        assert.match(r.stderr, /The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/);
        const c = await attempt('FROM busybox\nCOPY nothere /x\n', cli);
        assert.equal(c.code, 1);
        assert.match(c.stderr, /COPY failed: file not found in build context or excluded by \.dockerignore: stat nothere: file does not exist/);
      }
      const p = await attempt('FORM busybox\n');
      assert.equal(p.code, 1);
      assert.match(p.stderr, /dockerfile parse error on line 1: unknown instruction: FORM \(did you mean FROM\?\)/);
      // A stage failing while another one is still running cancels it (its container is killed).
      const started = Date.now();
      const m = await attempt('FROM busybox AS slow\nRUN sleep 60\nFROM busybox\nRUN sleep 1; exit 5\n');
      assert.equal(m.code, 5, m.stderr);
      assert.ok(Date.now() - started < 45_000, 'the slow stage was not cancelled');
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
    // Nothing left: no build containers or tasks, no work snapshots, no build leases, no mounts, no scratch files.
    assert.deepEqual((await rt.containers.list()).filter((c) => c.labels['io.berth.build']).map((c) => c.id), []);
    assert.deepEqual((await rt.tasks.list()).map((t) => t.id), []);
    assert.deepEqual((await rt.snapshots.list()).filter((s) => s.name.startsWith('build-')).map((s) => s.name), []);
    assert.deepEqual((await rt.leases.list()).map((l) => l.id), ['berth-build-cache']);
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(berthd.dataRoot) || m.startsWith(path.join(berthd.execRoot, 'builder')));
    assert.deepEqual(mounts, []);
    assert.deepEqual(readdirSync(path.join(berthd.dataRoot, 'builder', 'tmp')), []);
  });

  it('ADD of a URL downloads the file (name, mode, Last-Modified time) as dockerd does', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Last-Modified': 'Tue, 02 Jan 2024 03:04:05 GMT' });
      res.end(`served ${req.url}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const ctx = tempDir('berth-build-url-').path;
    try {
      writeFileSync(path.join(ctx, 'Dockerfile'), [
        'FROM busybox',
        `ADD http://127.0.0.1:${port}/dl/notes.txt /downloads/`,
        `ADD http://127.0.0.1:${port}/dl/other.txt /renamed.txt`,
        'CMD ["sh", "-c", "cat /downloads/notes.txt /renamed.txt; stat -c \'%a %U %Y %n\' /downloads/notes.txt /renamed.txt"]',
      ].join('\n'));
      const outs: string[] = [];
      for (const cli of [berthDocker, realDocker]) {
        const r = await cli(['build', '-t', 'add-url', ctx]);
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        outs.push((await cli(['run', '--rm', 'add-url'])).stdout);
      }
      assert.match(outs[0]!, /served \/dl\/notes.txt\nserved \/dl\/other.txt\n600 root 1704164645 \/downloads\/notes.txt/);
      assert.equal(outs[0], outs[1]);
    } finally {
      server.close();
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it('a berthd killed during a build leaves nothing behind once it is back', async () => {
    const ctx = tempDir('berth-build-kill-').path;
    try {
      writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN sleep 120\n');
      const build = berthDocker(['build', '--no-cache', ctx], { timeoutMs: 60_000 });
      await waitFor(async () => (await rt.containers.list()).some((c) => c.labels['io.berth.build']), 'the RUN container', 30_000, 100);
      await berthd.kill9();
      assert.notEqual((await build).code, 0);
      await berthd.restart();
      // The restarted berthd removes the RUN container, then the build's snapshots, lease and scratch files.
      const leftovers = async () => ({
        containers: (await rt.containers.list()).filter((c) => c.labels['io.berth.build']).map((c) => c.id),
        leases: (await rt.leases.list()).map((l) => l.id).filter((id) => id !== 'berth-build-cache'),
        snapshots: (await rt.snapshots.list()).filter((x) => x.name.includes('build-')).map((x) => x.name),
        tmp: readdirSync(path.join(berthd.dataRoot, 'builder', 'tmp')),
      });
      await waitFor(async () => Object.values(await leftovers()).every((l) => l.length === 0), 'the build\'s leftovers to go', 30_000, 200)
        .catch((err: unknown) => {
          console.error(readFileSync(berthd.logFile, 'utf8').split('\n').filter((l) => /cleanup|interrupted|"level":[45]0/.test(l)).slice(-20).join('\n'));
          throw err;
        });
      assert.deepEqual(await leftovers(), { containers: [], leases: [], snapshots: [], tmp: [] });
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });
});
