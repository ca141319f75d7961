// The volumes extension: the /volumes routes with Docker's shapes and messages, and the Volumes the container
// lifecycle calls (create-time volumes, copy-up, local driver mounts, rm -v), on a private data root.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Volume } from '@berth/docker-api';
import { uniqueSuffix } from '@berth/testing';
import type { MountRecord } from '../containers/record.ts';
import type { EngineExtension } from '../extensions.ts';
import { fakeHost, testApp, type FakeHost } from '../networks/spec-host.ts';
import { createExtension } from './index.ts';
import { isMountPoint } from './local-driver.ts';
import type { LocalVolumes } from './local-volumes.ts';
import { ANONYMOUS_LABEL, VolumeStore } from './volume-store.ts';

const json = { 'content-type': 'application/json' };

function volumeMount(name: string, dest: string, extra: Partial<MountRecord> = {}): MountRecord {
  return {
    Type: 'volume', Name: name, Source: '', Destination: dest, Driver: 'local', Mode: 'z', RW: true, Propagation: '',
    Anonymous: name === '', CopyData: true, ...extra,
  };
}

describe('volumes extension', { concurrency: false }, () => {
  const base = path.join(tmpdir(), `berth-volext-${uniqueSuffix()}`);
  let host: FakeHost;
  let ext: EngineExtension;
  let vols: LocalVolumes;
  let app: FastifyInstance;

  before(async () => {
    host = fakeHost({ dataRoot: path.join(base, 'data'), execRoot: path.join(base, 'exec') });
    ext = await createExtension(host);
    vols = ext.volumes as LocalVolumes;
    app = await testApp((a) => ext.routes!(a));
  });

  after(async () => {
    await app?.close();
    // Unmount anything a failed test left mounted before removing the data root.
    for (const v of vols?.store.list() ?? []) if (isMountPoint(v.Mountpoint)) await import('./local-driver.ts').then((m) => m.unmountLocal(v.Mountpoint));
    rmSync(base, { recursive: true, force: true });
  });

  it('creates, inspects, lists with filters and removes named volumes', async () => {
    const c = await app.inject({ method: 'POST', url: '/v1.47/volumes/create', headers: json, payload: { Name: 'data1', Labels: { app: 'db' } } });
    assert.equal(c.statusCode, 201, c.body);
    const v = c.json<Volume>();
    assert.equal(v.Name, 'data1');
    assert.equal(v.Driver, 'local');
    assert.equal(v.Scope, 'local');
    assert.equal(v.Mountpoint, path.join(base, 'data', 'volumes', 'data1', '_data'));
    assert.ok(existsSync(v.Mountpoint));
    assert.match(v.CreatedAt!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(v.Labels, { app: 'db' });
    // Creating it again returns it; a generated name when none is given.
    assert.equal((await app.inject({ method: 'POST', url: '/volumes/create', headers: json, payload: { Name: 'data1' } })).statusCode, 201);
    const anon = (await app.inject({ method: 'POST', url: '/volumes/create', headers: json, payload: {} })).json<Volume>();
    assert.match(anon.Name, /^[0-9a-f]{64}$/);
    const list = (await app.inject({ method: 'GET', url: `/volumes?filters=${encodeURIComponent('{"label":["app=db"]}')}` })).json<{ Volumes: Volume[] }>();
    assert.deepEqual(list.Volumes.map((x) => x.Name), ['data1']);
    const byName = (await app.inject({ method: 'GET', url: `/volumes?filters=${encodeURIComponent('{"name":["ata"]}')}` })).json<{ Volumes: Volume[] }>();
    assert.deepEqual(byName.Volumes.map((x) => x.Name), ['data1']);
    const insp = await app.inject({ method: 'GET', url: '/volumes/data1' });
    assert.equal(insp.json<Volume>().Name, 'data1');
    const missing = await app.inject({ method: 'GET', url: '/volumes/nope' });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { message: 'get nope: no such volume' });
    const bad = await app.inject({ method: 'POST', url: '/volumes/create', headers: json, payload: { Name: 'a/b' } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json<{ message: string }>().message, /includes invalid characters for a local volume name/);
    const badOpt = await app.inject({ method: 'POST', url: '/volumes/create', headers: json, payload: { Name: 'x1', DriverOpts: { foo: 'bar' } } });
    assert.equal(badOpt.statusCode, 400);
    assert.equal(badOpt.json<{ message: string }>().message, 'create x1: invalid option key: "foo"');
    const plugin = await app.inject({ method: 'POST', url: '/volumes/create', headers: json, payload: { Name: 'x2', Driver: 'nfsplugin' } });
    assert.equal(plugin.statusCode, 404);
    assert.equal((await app.inject({ method: 'DELETE', url: `/volumes/${anon.Name}` })).statusCode, 204);
    assert.equal((await app.inject({ method: 'DELETE', url: '/volumes/nope' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'DELETE', url: '/volumes/nope?force=1' })).statusCode, 204);
    assert.equal((await app.inject({ method: 'DELETE', url: '/volumes/data1' })).statusCode, 204);
    assert.ok(!existsSync(v.Mountpoint));
  });

  it('gives containers their volumes at create, refuses removing volumes in use, and rm -v removes only anonymous ones', async () => {
    const mounts = [volumeMount('', '/anon'), volumeMount('shared', '/shared')];
    const c1 = host.make('c1');
    await vols.prepare(c1.id, mounts);
    const anonName = mounts[0]!.Name!;
    assert.match(anonName, /^[0-9a-f]{64}$/);
    assert.equal(mounts[1]!.Source, vols.store.dataPath('shared'));
    assert.ok(Object.hasOwn(vols.store.inspect(anonName).Labels!, ANONYMOUS_LABEL));
    assert.ok(!Object.hasOwn(vols.store.inspect('shared').Labels!, ANONYMOUS_LABEL));
    const busy = await app.inject({ method: 'DELETE', url: '/volumes/shared' });
    assert.equal(busy.statusCode, 409);
    assert.equal(busy.json<{ message: string }>().message, `remove shared: volume is in use - [${c1.id}]`);
    const dangling = (await app.inject({ method: 'GET', url: `/volumes?filters=${encodeURIComponent('{"dangling":["true"]}')}` })).json<{ Volumes: Volume[] }>();
    assert.ok(!dangling.Volumes.some((v) => v.Name === 'shared'));
    // A bad mount at create leaves no volume behind.
    const before = vols.store.list().length;
    await assert.rejects(vols.prepare(host.make('c2').id, [volumeMount('', '/x'), { ...volumeMount('', '/y'), Driver: 'flocker' }]), /plugin "flocker" not found/);
    assert.equal(vols.store.list().length, before);
    await vols.release(c1.id, mounts, { removeAnonymous: true });
    assert.ok(!vols.store.has(anonName));
    assert.ok(vols.store.has('shared'), 'named volumes survive rm -v');
    await vols.store.remove('shared');
  });

  it('copies the image content into a new empty volume, once', async () => {
    const image = path.join(base, 'image-etc');
    mkdirSync(path.join(image, 'sub'), { recursive: true, mode: 0o750 });
    writeFileSync(path.join(image, 'conf'), 'from image');
    writeFileSync(path.join(image, 'sub', 'x'), 'deep');
    const c = host.make('cu');
    const m = volumeMount('copyme', '/etc/app');
    await vols.prepare(c.id, [m]);
    const r = await vols.mount(c.id, m, async () => image);
    assert.equal(r.source, vols.store.dataPath('copyme'));
    assert.equal(readFileSync(path.join(r.source, 'conf'), 'utf8'), 'from image');
    assert.equal(readFileSync(path.join(r.source, 'sub', 'x'), 'utf8'), 'deep');
    writeFileSync(path.join(r.source, 'conf'), 'changed by the container');
    await vols.unmount(c.id, [m]);
    const c2 = host.make('cu2');
    await vols.prepare(c2.id, [m]);
    const r2 = await vols.mount(c2.id, m, async () => image);
    assert.equal(readFileSync(path.join(r2.source, 'conf'), 'utf8'), 'changed by the container', 'a volume with data is not overwritten');
    const nocopy = volumeMount('nocopy', '/etc/app', { CopyData: false });
    await vols.prepare(c2.id, [nocopy]);
    await vols.mount(c2.id, nocopy, async () => image);
    assert.equal(existsSync(path.join(vols.store.dataPath('nocopy'), 'conf')), false);
    for (const id of [c.id, c2.id]) await vols.release(id, [m, nocopy], { removeAnonymous: false });
    await vols.store.remove('copyme');
    await vols.store.remove('nocopy');
  });

  it('mounts local driver options (tmpfs, bind device) while containers use the volume', async () => {
    const t = await app.inject({
      method: 'POST', url: '/volumes/create', headers: json, payload: { Name: 'tmpv', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,mode=0700' } },
    });
    assert.equal(t.statusCode, 201, t.body);
    assert.deepEqual(t.json<Volume>().Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,mode=0700' });
    const dev = path.join(base, 'device');
    mkdirSync(dev);
    writeFileSync(path.join(dev, 'hello'), 'from the device');
    const b = await app.inject({
      method: 'POST', url: '/volumes/create', headers: json, payload: { Name: 'bindv', DriverOpts: { type: 'none', o: 'bind', device: dev } },
    });
    assert.equal(b.statusCode, 201, b.body);
    const a = host.make('ta');
    const z = host.make('tb');
    const mt = volumeMount('tmpv', '/t');
    const mb = volumeMount('bindv', '/b');
    await vols.prepare(a.id, [mt, mb]);
    await vols.prepare(z.id, [mt]);
    const src = (await vols.mount(a.id, mt, async () => undefined)).source;
    await vols.mount(z.id, mt, async () => undefined);
    assert.ok(isMountPoint(src));
    assert.equal(statSync(src).mode & 0o777, 0o700);
    const bs = (await vols.mount(a.id, mb, async () => undefined)).source;
    assert.equal(readFileSync(path.join(bs, 'hello'), 'utf8'), 'from the device');
    await vols.unmount(a.id, [mt, mb]);
    assert.ok(isMountPoint(src), 'still used by the other container');
    assert.ok(!isMountPoint(bs));
    await vols.unmount(z.id, [mt]);
    assert.ok(!isMountPoint(src));
    for (const id of [a.id, z.id]) await vols.release(id, [mt, mb], { removeAnonymous: false });
    assert.equal((await app.inject({ method: 'DELETE', url: '/volumes/tmpv' })).statusCode, 204);
    assert.equal((await app.inject({ method: 'DELETE', url: '/volumes/bindv' })).statusCode, 204);
    assert.ok(existsSync(path.join(dev, 'hello')), 'removing a bind volume leaves the device alone');
    const missingDevice = await app.inject({
      method: 'POST', url: '/volumes/create', headers: json, payload: { Name: 'bad', DriverOpts: { type: 'none', o: 'bind', device: '/nonexistent/dir' } },
    });
    assert.equal(missingDevice.statusCode, 400);
  });

  it('prunes anonymous volumes (all unused ones with all=true or before API 1.42) and keeps volumes across restarts', async () => {
    for (const n of ['keep1', 'keep2']) await app.inject({ method: 'POST', url: '/volumes/create', headers: json, payload: { Name: n } });
    const anon = volumeMount('', '/a');
    const c = host.make('pr');
    await vols.prepare(c.id, [anon]);
    await vols.release(c.id, [anon], { removeAnonymous: false });
    const p1 = (await app.inject({ method: 'POST', url: '/v1.47/volumes/prune' })).json<{ VolumesDeleted: string[] }>();
    assert.deepEqual(p1.VolumesDeleted, [anon.Name]);
    // A new store on the same root (a daemon restart) sees the named volumes and their data.
    writeFileSync(path.join(vols.store.dataPath('keep1'), 'f'), 'persisted');
    const again = new VolumeStore({ root: path.join(base, 'data', 'volumes'), usedBy: () => [] });
    assert.deepEqual(again.list().map((v) => v.Name).sort(), ['keep1', 'keep2']);
    assert.equal(readFileSync(path.join(again.dataPath('keep1'), 'f'), 'utf8'), 'persisted');
    const p2 = (await app.inject({ method: 'POST', url: `/volumes/prune?filters=${encodeURIComponent('{"all":["true"]}')}` })).json<{ VolumesDeleted: string[]; SpaceReclaimed: number }>();
    assert.deepEqual(p2.VolumesDeleted.sort(), ['keep1', 'keep2']);
    assert.ok(p2.SpaceReclaimed > 0);
    await app.inject({ method: 'POST', url: '/volumes/create', headers: json, payload: { Name: 'old' } });
    const p3 = (await app.inject({ method: 'POST', url: '/v1.41/volumes/prune' })).json<{ VolumesDeleted: string[] }>();
    assert.deepEqual(p3.VolumesDeleted, ['old']);
  });
});
