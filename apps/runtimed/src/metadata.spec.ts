import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tempDir } from '@berth/testing';
import { toTimestamp } from '@berth/containerd-api';
import { containerRefs, markAndSweep, mayFree } from './gc.ts';
import { ContainerStore } from './metadata/containers.ts';
import { ContentMeta } from './metadata/content-meta.ts';
import { openDb } from './metadata/db.ts';
import { compileFilters, fieldsAdaptor } from './metadata/filters.ts';
import { ImageStore } from './metadata/images.ts';
import { LeaseStore } from './metadata/leases.ts';
import { NamespaceStore } from './metadata/namespaces.ts';
import { SnapshotMeta } from './metadata/snapshot-meta.ts';

const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('filters', () => {
  it('parses containerd filter syntax', () => {
    const m = (f: string[], fields: Record<string, string>, labels: Record<string, string> = {}) =>
      compileFilters(f)(fieldsAdaptor(fields, labels));
    assert.ok(m([], { name: 'x' }));
    assert.ok(m(['name==x'], { name: 'x' }));
    assert.ok(!m(['name==y'], { name: 'x' }));
    assert.ok(m(['name==y', 'name==x'], { name: 'x' }), 'several filters: any');
    assert.ok(!m(['name==x,labels.a==b'], { name: 'x' }), 'selectors: all');
    assert.ok(m(['name~=^busy'], { name: 'busybox' }));
    assert.ok(m(['labels."io.example/k"==v'], {}, { 'io.example/k': 'v' }));
    assert.ok(m(['labels.k'], {}, { k: 'v' }));
    assert.ok(m(['name!="a b"'], { name: 'x' }));
    assert.throws(() => compileFilters(['name~=(']), /bad regular expression/);
  });
});

describe('metadata stores', () => {
  it('keeps namespaces apart and refuses to delete a non-empty namespace', () => {
    using dir = tempDir();
    const db = openDb(dir.path);
    const ns = new NamespaceStore(db);
    const images = new ImageStore(db);
    ns.create('a', { x: 'y' });
    assert.throws(() => ns.create('a', {}), /already exists/);
    const target = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: D('a'), size: 10, annotations: {} };
    images.create('a', { name: 'img', labels: {}, target, createdAt: null, updatedAt: null });
    assert.throws(() => images.create('a', { name: 'img', labels: {}, target, createdAt: null, updatedAt: null }), /already exists/);
    assert.throws(() => images.get('b', 'img'), /not found/);
    assert.throws(() => ns.delete('a'), /must be empty/);
    const upd = images.update('a', { name: 'img', labels: { k: 'v' }, target, createdAt: null, updatedAt: null }, ['labels.k']);
    assert.deepEqual(upd.labels, { k: 'v' });
    assert.equal(images.list('a', ['labels.k==v']).length, 1);
    images.delete('a', 'img');
    ns.delete('a');
    assert.deepEqual(ns.list(), []);
    db.close();
  });

  it('validates containers as containerd does', () => {
    using dir = tempDir();
    const db = openDb(dir.path);
    const cs = new ContainerStore(db);
    const base = {
      id: 'c1', labels: {}, image: 'i', runtime: { name: 'io.containerd.runc.v2', options: null },
      spec: { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{}') },
      snapshotter: 'overlayfs', snapshotKey: 'c1', createdAt: null, updatedAt: null, extensions: {},
    };
    assert.throws(() => cs.create('ns', { ...base, id: 'bad id' }), /invalid identifier/);
    assert.throws(() => cs.create('ns', { ...base, runtime: null }), /Runtime.Name must be set/);
    const c = cs.create('ns', base);
    assert.equal(c.spec?.value.toString(), '{}');
    const u = cs.update('ns', { ...base, labels: { a: 'b' } }, ['labels']);
    assert.deepEqual(u.labels, { a: 'b' });
    assert.equal(cs.list('ns', ['labels.a==b']).length, 1);
    db.close();
  });
});

describe('garbage collection (mark and sweep)', () => {
  it('keeps what images, containers, leases and gc labels reach and sweeps the rest', () => {
    using dir = tempDir();
    const db = openDb(dir.path);
    const content = new ContentMeta(db);
    const snaps = new SnapshotMeta(db);
    const images = new ImageStore(db);
    const leases = new LeaseStore(db);
    // image -> index -> manifest -> config -> snapshot chain (c2 -> c1)
    content.put('n', D('1'), 1, { 'containerd.io/gc.ref.content.m.0': D('2') });
    content.put('n', D('2'), 1, { 'containerd.io/gc.ref.content.config': D('3'), 'containerd.io/gc.ref.content.l.0': D('4') });
    content.put('n', D('3'), 1, { 'containerd.io/gc.ref.snapshot.overlayfs': 'c2' });
    content.put('n', D('4'), 1, {});
    content.put('n', D('5'), 1, {}); // garbage
    content.put('n', D('6'), 1, {}); // leased
    content.put('n', D('7'), 1, { 'containerd.io/gc.root': '' });
    content.put('other', D('1'), 1, {}); // same blob, another namespace, unreferenced there
    snaps.insert({ namespace: 'n', snapshotter: 'overlayfs', key: 'c1', backend_key: 'n/1/c1', parent: '', kind: 'COMMITTED', labels: '{}' });
    snaps.insert({ namespace: 'n', snapshotter: 'overlayfs', key: 'c2', backend_key: 'n/2/c2', parent: 'c1', kind: 'COMMITTED', labels: '{}' });
    snaps.insert({ namespace: 'n', snapshotter: 'overlayfs', key: 'lone', backend_key: 'n/3/lone', parent: 'c1', kind: 'ACTIVE', labels: '{}' });
    images.create('n', {
      name: 'img', labels: {}, createdAt: null, updatedAt: null,
      target: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: D('1'), size: 1, annotations: {} },
    });
    leases.create('n', 'l1', {});
    leases.addResource('n', 'l1', { type: 'content', id: D('6') });
    leases.create('n', 'old', { 'containerd.io/gc.expire': new Date(Date.now() - 1000).toISOString() });
    const plan = markAndSweep(db);
    assert.deepEqual(plan.content.map((c) => `${c.namespace}/${c.digest}`).sort(), [`n/${D('5')}`, `other/${D('1')}`].sort());
    assert.deepEqual(plan.snapshots.map((s) => s.key), ['lone']);
    assert.ok(!leases.exists('n', 'old'), 'expired lease removed');
    assert.ok(leases.exists('n', 'l1'));
    // Without the image, the whole chain goes.
    images.delete('n', 'img');
    const plan2 = markAndSweep(db);
    assert.deepEqual(plan2.content.length, 4);
    assert.deepEqual(plan2.snapshots.map((s) => s.key).sort(), ['c1', 'c2']);
    assert.ok(toTimestamp(0));
    db.close();
  });
});

describe('whether a deletion may leave garbage (mayFree)', () => {
  it('is false only for snapshots that are gone or still a container\'s rootfs', () => {
    using dir = tempDir();
    const db = openDb(dir.path);
    const snaps = new SnapshotMeta(db);
    const containers = new ContainerStore(db);
    for (const key of ['used', 'free']) {
      snaps.insert({ namespace: 'n', snapshotter: 'overlayfs', key, backend_key: `n/${key}`, parent: '', kind: 'ACTIVE', labels: '{}' });
    }
    const ctr = {
      id: 'c', labels: {}, image: '', runtime: { name: 'io.containerd.runc.v2', options: null },
      spec: { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{}') },
      snapshotter: 'overlayfs', snapshotKey: 'used', createdAt: null, updatedAt: null, extensions: {},
    };
    containers.create('n', ctr);
    const snap = (id: string, snapshotter = 'overlayfs') => ({ type: `snapshots/${snapshotter}`, id });
    assert.equal(mayFree(db, 'n', []), false);
    assert.equal(mayFree(db, 'n', [snap('used')]), false, 'a container still holds it');
    assert.equal(mayFree(db, 'n', [snap('gone')]), false, 'no such snapshot');
    assert.equal(mayFree(db, 'n', [snap('used'), snap('free')]), true, 'nothing else holds "free"');
    assert.equal(mayFree(db, 'n', [snap('used', 'native')]), false, 'another snapshotter: no such snapshot');
    assert.equal(mayFree(db, 'other', [snap('used')]), false, 'another namespace: no such snapshot');
    assert.equal(mayFree(db, 'n', [{ type: 'content', id: D('1') }]), true);
    assert.equal(mayFree(db, 'n', [{ type: 'ingests', id: 'ref' }]), true);
    // A deleted container's refs: its snapshot, and what its gc labels reference.
    assert.deepEqual(containerRefs(ctr), [snap('used')]);
    assert.deepEqual(containerRefs({ ...ctr, snapshotKey: '', labels: { 'containerd.io/gc.ref.content.x': D('2') } }), [{ type: 'content', id: D('2') }]);
    containers.delete('n', 'c');
    assert.equal(mayFree(db, 'n', containerRefs(ctr)), true, 'its snapshot is now held by nothing');
    db.close();
  });
});
