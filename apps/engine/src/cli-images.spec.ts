// Images through berthd with the real docker CLI: pull, push to a private registry, tag, rmi (with Docker's
// conflicts), images (filters), history, inspect, save/load (also into a real dockerd), import, commit, login
// against an htpasswd registry. Needs root, the loopback registry (tools/setup/services.sh) and dockerd.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, startDockerd, startRegistry, tempDir, type PrivateDockerd, type PrivateRegistry } from '@berth/testing';
import { startBerthd, type TestDaemon } from './test-support.ts';

// Sequential: the tests share (and some remove) the busybox image.
describe('images through berthd', { concurrency: false }, () => {
  let berth: TestDaemon;
  let registry: PrivateRegistry;
  let authRegistry: PrivateRegistry;
  let dockerd: PrivateDockerd;
  let dir: { path: string } & Disposable;
  const ok = async (args: string[], input?: string) => {
    const r = await berth.docker(args, input !== undefined ? { input } : {});
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    dir = tempDir('berth-engine-images-');
    const htpasswd = path.join(dir.path, 'htpasswd');
    writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', 'alice', 's3cret']));
    [berth, registry, authRegistry, dockerd] = await Promise.all([
      startBerthd(),
      startRegistry(path.join(dir.path, 'reg')),
      startRegistry(path.join(dir.path, 'auth-reg'), { htpasswd }),
      startDockerd(path.join(dir.path, 'dockerd'), { extraArgs: [] }),
    ]);
    await ok(['pull', 'busybox']);
  });

  after(async () => {
    await berth?.stop();
    await registry?.stop();
    await authRegistry?.stop();
    await dockerd?.stop();
    dir?.[Symbol.dispose]();
  });

  it('pull: progress, up to date, by digest, errors', async () => {
    const r = await berth.docker(['pull', 'busybox']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Using default tag: latest\nlatest: Pulling from library\/busybox\nDigest: sha256:[0-9a-f]{64}\nStatus: Image is up to date for busybox:latest\ndocker.io\/library\/busybox:latest\n$/);
    const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(r.stdout)![1]!;
    const byDigest = await berth.docker(['pull', `busybox@${digest}`]);
    assert.equal(byDigest.code, 0, byDigest.stderr);
    const missing = await berth.docker(['pull', `${registry.addr}/nothing/here:nope`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Error response from daemon: /);
    const bad = await berth.docker(['pull', 'Busybox']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid reference format/);
  });

  it('tag, push, rmi of the pushed image, pull it back, and pull it with a real dockerd', async () => {
    const ref = `${registry.addr}/team/box:v1`;
    await ok(['tag', 'busybox', ref]);
    const push = await ok(['push', ref]);
    assert.match(push, new RegExp(`The push refers to repository \\[${registry.addr}/team/box\\]`));
    assert.match(push, /v1: digest: sha256:[0-9a-f]{64} size: \d+/);
    const untag = await ok(['rmi', ref]);
    assert.match(untag, new RegExp(`Untagged: ${registry.addr}/team/box:v1`));
    assert.equal((await berth.docker(['image', 'inspect', ref])).code, 1);
    assert.match(await ok(['pull', ref]), /Status: (Downloaded newer image|Image is up to date)/);
    const real = await run('docker', ['pull', ref], { env: { ...dockerd.env } });
    assert.equal(real.code, 0, real.stderr);
    const realRun = await run('docker', ['run', '--rm', ref, 'echo', 'from-berth-push'], { env: dockerd.env });
    assert.equal(realRun.stdout, 'from-berth-push\n', realRun.stderr);
    const noSuch = await berth.docker(['push', `${registry.addr}/team/none:v1`]);
    assert.equal(noSuch.code, 1);
    assert.match(noSuch.stderr, /An image does not exist locally with the tag/);
  });

  it('images with filters, history, inspect', async () => {
    await ok(['tag', 'busybox', 'berth-local/one:a']);
    await ok(['tag', 'busybox', 'berth-local/one:b']);
    const list = await ok(['images', '--format', '{{.Repository}}:{{.Tag}}', 'berth-local/one']);
    assert.deepEqual(list.trim().split('\n').sort(), ['berth-local/one:a', 'berth-local/one:b']);
    const byRef = await ok(['images', '--filter', 'reference=berth-local/*', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.deepEqual(byRef.trim().split('\n').sort(), ['berth-local/one:a', 'berth-local/one:b']);
    assert.equal((await ok(['images', '-q', '--filter', 'dangling=true'])).trim(), '');
    // An image's tags in lexical order and images newest first, as dockerd lists them.
    // (busybox was also pulled by digest: that reference is a RepoDigest, never a tag)
    const tags = JSON.parse(await ok(['image', 'inspect', '-f', '{{json .RepoTags}}', 'busybox'])) as string[];
    assert.deepEqual(tags, [...tags].sort());
    assert.deepEqual(tags.filter((t) => /^(berth-local|busybox)/.test(t) || t.includes('@')), ['berth-local/one:a', 'berth-local/one:b', 'busybox:latest']);
    const created = (await ok(['images', '--format', '{{.CreatedAt}}'])).trim().split('\n');
    assert.deepEqual(created, [...created].sort().reverse());
    const id = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal((await ok(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}} {{index .Config.Cmd 0}}', 'busybox'])).trim(), 'linux/amd64 sh');
    const hist = await ok(['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}', 'busybox']);
    assert.match(hist.split('\n')[0]!, new RegExp(`^${id}\\|CMD \\["sh"\\]`));
    // Removing one of two tags only untags; by id with two tags is refused.
    const short = id.slice(7, 19);
    const multi = await berth.docker(['rmi', short]);
    assert.equal(multi.code, 1);
    assert.match(multi.stderr, new RegExp(`conflict: unable to delete ${short} \\(must be forced\\) - image is referenced in multiple repositories`));
    assert.equal((await ok(['rmi', 'berth-local/one:a'])).trim(), 'Untagged: berth-local/one:a');
    await ok(['rmi', 'berth-local/one:b']);
  });

  it('rmi refuses images used by containers, as Docker does', async () => {
    await ok(['tag', 'busybox', 'berth-used:1']);
    const cid = (await ok(['create', 'berth-used:1', 'true'])).trim();
    const r = await berth.docker(['rmi', 'berth-used:1']);
    assert.equal(r.code, 0, 'another tag (busybox) still names the image, so this is only an untag');
    await ok(['tag', 'busybox', 'berth-used:1']);
    const id = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim().slice(7, 19);
    const byId = await berth.docker(['rmi', '-f', id]);
    assert.equal(byId.code, 0, byId.stderr);
    assert.equal((await ok(['inspect', '-f', '{{.Config.Image}}', cid])).trim(), 'berth-used:1');
    const started = await berth.docker(['start', '-a', cid]);
    assert.equal(started.code, 0, `the container still runs after its image lost its names: ${started.stderr}`);
    await ok(['rm', cid]);
    await ok(['pull', '-q', 'busybox']);
    const running = (await ok(['run', '-d', 'busybox', 'sleep', '100'])).trim();
    const refused = await berth.docker(['rmi', '-f', id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`conflict: unable to delete ${id} \\(cannot be forced\\) - image is being used by running container ${running.slice(0, 12)}`));
    await ok(['rm', '-f', running]);
  });

  it('save/load round trip, and a real dockerd loads berth\'s save', async () => {
    const tar = path.join(dir.path, 'box.tar');
    await ok(['tag', 'busybox', 'berth-saved:1']);
    await ok(['save', '-o', tar, 'berth-saved:1']);
    const names = execFileSync('tar', ['-tf', tar], { encoding: 'utf8' });
    assert.match(names, /manifest\.json/);
    assert.match(names, /index\.json/);
    await ok(['rmi', 'berth-saved:1']);
    assert.match(await ok(['load', '-i', tar]), /Loaded image: berth-saved:1/);
    assert.equal((await berth.docker(['run', '--rm', 'berth-saved:1', 'echo', 'loaded'])).stdout, 'loaded\n');
    const real = await run('docker', ['load', '-i', tar], { env: dockerd.env });
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, /Loaded image: berth-saved:1/);
    // And berth loads what dockerd saves.
    const fromDocker = path.join(dir.path, 'from-docker.tar');
    await run('docker', ['tag', 'berth-saved:1', 'from-dockerd:2'], { env: dockerd.env });
    const saved = await run('docker', ['save', '-o', fromDocker, 'from-dockerd:2'], { env: dockerd.env });
    assert.equal(saved.code, 0, saved.stderr);
    assert.match(await ok(['load', '-i', fromDocker]), /Loaded image: from-dockerd:2/);
    assert.equal((await berth.docker(['run', '--rm', 'from-dockerd:2', 'echo', 'ok'])).stdout, 'ok\n');
  });

  it('import a rootfs tarball with --change, and export/commit a container', async () => {
    const cid = (await ok(['create', 'busybox', 'true'])).trim();
    const exported = path.join(dir.path, 'rootfs.tar');
    await ok(['export', '-o', exported, cid]);
    assert.match(execFileSync('tar', ['-tf', exported], { encoding: 'utf8' }), /^bin\/busybox$/m);
    const imported = await ok(['import', '--change', 'CMD ["echo", "imported"]', '--change', 'ENV X=1', exported, 'berth-imported:1']);
    assert.match(imported, /^sha256:[0-9a-f]{64}$/m);
    assert.equal((await berth.docker(['run', '--rm', 'berth-imported:1'])).stdout, 'imported\n');
    assert.equal((await berth.docker(['run', '--rm', 'berth-imported:1', 'sh', '-c', 'echo $X'])).stdout, '1\n');
    // from a URL, as dockerd downloads it; a URL that answers 404 is an error and imports nothing
    const server = http.createServer((req, res) => {
      if (req.url === '/rootfs.tar') createReadStream(exported).pipe(res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      assert.match(await ok(['import', '-c', 'CMD ["echo", "from-url"]', `http://127.0.0.1:${port}/rootfs.tar`, 'berth-imported:url']), /^sha256:[0-9a-f]{64}$/m);
      assert.equal((await berth.docker(['run', '--rm', 'berth-imported:url'])).stdout, 'from-url\n');
      const missing = await berth.docker(['import', `http://127.0.0.1:${port}/nothing.tar`, 'berth-imported:missing']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /status 404/);
      assert.notEqual((await berth.docker(['image', 'inspect', 'berth-imported:missing'])).code, 0);
    } finally {
      server.close();
    }
    await ok(['rm', cid]);
    await ok(['run', '--name', 'berth-to-commit', 'busybox', 'sh', '-c', 'echo committed > /hello.txt']);
    const newId = (await ok(['commit', '-m', 'a message', '-a', 'Ada', '-c', 'CMD ["cat", "/hello.txt"]', 'berth-to-commit', 'berth-committed:1'])).trim();
    assert.match(newId, /^sha256:[0-9a-f]{64}$/);
    assert.equal((await berth.docker(['run', '--rm', 'berth-committed:1'])).stdout, 'committed\n');
    assert.equal((await ok(['image', 'inspect', '-f', '{{.Author}}|{{.Comment}}|{{len .RootFS.Layers}}', 'berth-committed:1'])).trim(), 'Ada|a message|2');
    // The same changes committed again make the same layer: dockerd reuses it, so must berthd.
    const againId = (await ok(['commit', 'berth-to-commit', 'berth-committed:2'])).trim();
    assert.notEqual(againId, newId);
    assert.equal((await ok(['image', 'inspect', '-f', '{{index .RootFS.Layers 1}}', 'berth-committed:2'])).trim(),
      (await ok(['image', 'inspect', '-f', '{{index .RootFS.Layers 1}}', 'berth-committed:1'])).trim());
    assert.equal((await berth.docker(['run', '--rm', 'berth-committed:2', 'cat', '/hello.txt'])).stdout, 'committed\n');
    await ok(['rm', 'berth-to-commit']);
  });

  it('login checks credentials against the registry', async () => {
    const good = await berth.docker(['login', '-u', 'alice', '--password-stdin', authRegistry.addr], { input: 's3cret\n' });
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /Login Succeeded/);
    const bad = await berth.docker(['login', '-u', 'alice', '--password-stdin', authRegistry.addr], { input: 'wrong\n' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unauthorized|401/i);
    // With the stored credentials, push and pull work through the authenticated registry.
    const ref = `${authRegistry.addr}/private/box:1`;
    await ok(['tag', 'busybox', ref]);
    assert.match(await ok(['push', ref]), /1: digest: sha256:/);
    await ok(['rmi', ref]);
    assert.match(await ok(['pull', ref]), /Downloaded newer image|Image is up to date/);
    await ok(['logout', authRegistry.addr]);
    const anon = await berth.docker(['pull', `${authRegistry.addr}/private/box:2`]);
    assert.equal(anon.code, 1);
    void readFileSync;
  });
});
